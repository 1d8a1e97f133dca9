# `make run` and `make test` work on a fresh machine: they create .venv when missing,
# install the project, and (for the tests) the Debian packages the tests drive.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := $(shell find zitui -type f -not -path '*/__pycache__/*') zitui.spec pyproject.toml \
	packaging/launcher.sh packaging/selfextract.py
# python3-seccomp: tests/confine.py runs the binary under the unit's system-call filter.
DEBIAN_PACKAGES := chromium tmux postgresql python3-seccomp openssh-client

.PHONY: run test binary system-deps lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/zitui start

system-deps:
	@missing=""; \
	for pkg in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# dist/zitui is one file: PyInstaller's one-folder build (dist/zitui.d) packed by
# packaging/selfextract.py, which zitui.spec runs last.
dist/zitui: $(STAMP) $(SOURCES)
	$(BIN)/pyinstaller --noconfirm --log-level WARN zitui.spec

binary: dist/zitui

# The strict relying party of tests/rp (npm openid-client), pinned by its lock file.
tests/rp/node_modules: tests/rp/package-lock.json
	cd tests/rp && npm ci --no-audit --no-fund
	@touch $@

# The upstream OpenID provider of tests/upstream (npm oidc-provider), pinned by its lock file.
tests/upstream/node_modules: tests/upstream/package-lock.json
	cd tests/upstream && npm ci --no-audit --no-fund
	@touch $@

# Lint first: a finding fails the run before the suite starts.
test: $(STAMP) system-deps dist/zitui tests/rp/node_modules tests/upstream/node_modules lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check zitui tests bench tools packaging
	$(BIN)/mypy

# wrk (Debian) drives the single-request measures of bench/oidc.py.
bench: $(STAMP)
	@$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES=wrk
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/argon2_rate.py
	$(BIN)/python bench/oidc.py

clean:
	rm -rf build dist $(VENV)
