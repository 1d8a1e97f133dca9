"""Layer contract: the core never touches the faces; the faces never touch the store."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "zitui"
FACES = ("starlette", "jinja2", "textual", "uvicorn", "zitui.server", "zitui.screens")
STORAGE = ("sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "asyncpg", "zitui.store")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offending(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PACKAGE)} imports {name}")
    return found


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("core", FACES),
        ("store", FACES),
        ("server", STORAGE + ("textual", "zitui.screens")),
        ("screens", STORAGE + ("starlette", "jinja2", "uvicorn", "zitui.server")),
    ],
)
def test_layer_imports_nothing_it_must_not(layer: str, forbidden: tuple[str, ...]):
    assert (PACKAGE / layer).is_dir()
    assert _offending(layer, forbidden) == []


def test_importing_the_whole_core_loads_no_face_library():
    modules = sorted(
        "zitui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in (PACKAGE / "core").rglob("*.py")
        if p.name != "__init__.py"
    )
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"faces = {FACES!r}\n"
        "hit = lambda m: any(m == f or m.startswith(f + '.') for f in faces)\n"
        "print(sorted(filter(hit, sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert len(modules) > 10
    assert out.stdout.strip() == "[]"


def test_the_contract_catches_a_violation(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("from sqlalchemy import select\nimport zitui.store.repos\n")
    assert _imports(bad) == {"sqlalchemy", "zitui.store.repos"}
