"""packaging/zitui.service: systemd accepts it, rates its exposure low, and the binary serves
and signs a user in under the unit's system-call filter and MemoryDenyWriteExecute.

Without systemd running (containers, CI), the confinement is rebuilt from its parts by
tests/confine.py: the unit's SystemCallFilter= sets, expanded by `systemd-analyze
syscall-filter`, loaded with libseccomp, and the kernel's PR_SET_MDWE. What it leaves out
(namespaces, the read-only file system, the dynamic user) is listed in docs/operations.md.
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.binary_fixtures import apply_shop, binary_env, built_binary, served, sign_in_alice

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "packaging" / "zitui.service"
INSTALLED_AT = "/usr/local/bin/zitui"
DEBIAN_PYTHON = "/usr/bin/python3"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@pytest.fixture
def confinement() -> None:
    check = subprocess.run([DEBIAN_PYTHON, "-c", "import seccomp"], capture_output=True)
    if check.returncode != 0:
        pytest.skip("Debian's python3-seccomp is not installed (make system-deps installs it)")


def unit_for(binary: Path, directory: Path) -> Path:
    """The unit with ExecStart= naming `binary`: `verify` checks that the command exists."""
    unit = directory / "zitui.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_AT, str(binary)))
    return unit


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def unit_settings(name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", UNIT.read_text(), re.M)


def system_calls(group: str, seen: set[str] | None = None) -> set[str]:
    """The system calls of a `SystemCallFilter=` group, nested groups expanded."""
    seen = set() if seen is None else seen
    listing = analyze("syscall-filter", group)
    assert listing.returncode == 0, listing.stderr
    names: set[str] = set()
    for line in listing.stdout.splitlines()[1:]:
        item = line.strip()
        if item.startswith("@") and item not in seen:
            seen.add(item)
            names |= system_calls(item, seen)
        elif item and not item.startswith(("#", "@")):
            names.add(item)
    return names


def allowed_system_calls() -> set[str]:
    """What the unit's SystemCallFilter= lines let through: the allow lists, less the `~`
    lists that follow them."""
    allowed: set[str] = set()
    for setting in unit_settings("SystemCallFilter"):
        denied = setting.startswith("~")
        for group in setting.lstrip("~").split():
            calls = system_calls(group) if group.startswith("@") else {group}
            allowed = allowed - calls if denied else allowed | calls
    return allowed


@needs_systemd_analyze
def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    result = analyze("verify", str(unit_for(built_binary(), tmp_path)))
    assert (result.returncode, result.stderr) == (0, "")


@needs_systemd_analyze
def test_the_unit_asks_for_the_hardening_it_documents() -> None:
    for name, value in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ]:
        assert unit_settings(name) == [value], name
    assert unit_settings("SystemCallFilter")[0] == "@system-service"
    # systemd's own scale: 0 (locked down) to 10 (exposed); "OK" below 2.
    result = analyze("security", "--offline=true", "--threshold=20", str(UNIT))
    assert result.returncode == 0, result.stdout


@needs_systemd_analyze
def test_the_binary_serves_and_signs_in_confined_as_the_unit_confines_it(
    tmp_path: Path, confinement: None
) -> None:
    binary = built_binary()
    allowed = allowed_system_calls()
    assert "execve" in allowed and "chroot" not in allowed and "setrlimit" not in allowed
    confine = [DEBIAN_PYTHON, str(ROOT / "tests" / "confine.py"), ",".join(sorted(allowed))]
    # An empty cache: the first start unpacks the binary under the confinement too.
    env = binary_env(tmp_path / "data", tmp_path / "cache")
    shop = apply_shop(binary, env, tmp_path, prefix=confine)
    with served(binary, env, port=shop.port, prefix=confine) as server:
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        userinfo = sign_in_alice(shop)
    assert "NoNewPrivs:\t1" in status and "Seccomp:\t2" in status
    assert userinfo["email"] == "alice@shop.example.com"


@needs_systemd_analyze
def test_the_confinement_refuses_what_the_unit_forbids(tmp_path: Path, confinement: None) -> None:
    """The confinement bites: writable and executable memory, and a call off its list."""
    probe = (
        "import mmap, os, sys\n"
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "    print('wx mapped')\n"
        "except OSError as e:\n"
        "    print('wx', e.errno)\n"
        "try:\n"
        "    os.mkdir(sys.argv[1])\n"
        "    print('mkdir ran')\n"
        "except OSError as e:\n"
        "    print('mkdir', e.errno)\n"
    )
    without_mkdir = sorted(system_calls("@system-service") - {"mkdir", "mkdirat"})
    confine = [DEBIAN_PYTHON, str(ROOT / "tests" / "confine.py"), ",".join(without_mkdir)]
    result = subprocess.run(
        [*confine, DEBIAN_PYTHON, "-c", probe, str(tmp_path / "made")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines() == [f"wx {errno.EACCES}", f"mkdir {errno.EPERM}"]
    assert not (tmp_path / "made").exists()
