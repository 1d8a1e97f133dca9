"""Backups of a PostgreSQL store: pg_dump in one exported snapshot, pg_restore to read back.

The row counts are read in the transaction whose snapshot pg_dump dumps (`--snapshot`), so
they are what the dump must hold. The dump is PostgreSQL's custom format (`-Fc`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from zitui.errors import StoreUnavailable
from zitui.store.backup import KEY_TABLES, Contents, Progress, create_private
from zitui.store.engine import OUR_TABLES

_DUMPING = re.compile(r'dumping contents of table "?([^"\s]+)"?')
_COPY = re.compile(r"^COPY (?:\w+\.)?\"?(\w+)\"? \(([^)]*)\) FROM stdin;$")
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?:\w+) (\w+) ")


async def dump_postgres(url: str, target: Path, *, progress: Progress | None = None) -> Contents:
    """Dump the database at `url` into the new file `target` (mode 0600); what it held."""
    create_private(target)
    conn = await _connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            contents = await _contents(conn)
            tables = await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
            )
            await _pg_dump(url, snapshot, target, int(tables), progress)
    finally:
        await conn.close()
    return contents


async def inspect_dump(path: Path) -> Contents:
    """Read the whole dump (every block decompressed) and what its key tables hold."""
    if not path.is_file():
        raise StoreUnavailable("backup.missing", f"{path} does not exist")
    toc = await _run([_tool("pg_restore"), "--list", str(path)], path)
    tables = {m.group(1) for line in toc.splitlines() if (m := _TOC_TABLE.match(line))}
    if not tables >= OUR_TABLES:
        raise StoreUnavailable("backup.foreign", f"{path} is not a dump of a zitui store")
    await _run([_tool("pg_restore"), "--file", os.devnull, str(path)], path)
    wanted = [arg for table in ("alembic_version", *KEY_TABLES) for arg in ("--table", table)]
    data = await _run([_tool("pg_restore"), "--data-only", "--file", "-", *wanted, str(path)], path)
    return _read_copy_blocks(data)


async def is_empty(url: str) -> bool:
    """Whether the database at `url` has no table yet (a restore's precondition)."""
    conn = await _connect(url)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        )
        return int(found) == 0
    finally:
        await conn.close()


async def restore_dump(url: str, path: Path) -> Contents:
    """Load the dump into the empty database at `url` in one transaction; what it now holds."""
    await _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            make_url(url).database or "",
            str(path),
        ],
        path,
        env=_pg_env(url),
    )
    conn = await _connect(url)
    try:
        return await _contents(conn)
    finally:
        await conn.close()


def database_name(url: str) -> str:
    """The database's name and server, as an operator would recognise it (no password)."""
    parsed = make_url(url)
    return f"{parsed.database} on {parsed.host or 'localhost'}:{parsed.port or 5432}"


async def _connect(url: str) -> Any:
    parsed = make_url(url)
    try:
        return await asyncpg.connect(
            host=parsed.host,
            port=parsed.port,
            user=parsed.username,
            password=parsed.password,
            database=parsed.database,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreUnavailable(
            "store.unavailable", f"the PostgreSQL store cannot be reached: {exc}"
        ) from exc


async def _contents(conn: Any) -> Contents:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    tables = {str(row[0]) for row in rows}
    revision = key_check = None
    if "alembic_version" in tables:
        revision = await conn.fetchval("SELECT version_num FROM alembic_version")
    if "instances" in tables:
        key_check = await conn.fetchval("SELECT key_check FROM instances LIMIT 1")
    counts = {
        table: int(await conn.fetchval(f'SELECT count(*) FROM "{table}"'))
        for table in KEY_TABLES
        if table in tables
    }
    return Contents(revision=revision, counts=counts, key_check=key_check)


async def _pg_dump(
    url: str, snapshot: str, target: Path, tables: int, progress: Progress | None
) -> None:
    process = await asyncio.create_subprocess_exec(
        _tool("pg_dump"),
        "--format=custom",
        "--verbose",
        f"--snapshot={snapshot}",
        "--file",
        str(target),
        env=_pg_env(url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    done, errors = 0, []
    async for raw in process.stderr:
        line = raw.decode(errors="replace").rstrip()
        if _DUMPING.search(line):
            done += 1
            if progress is not None:
                progress(min(done, tables), tables)
        elif "error" in line.lower():
            errors.append(line)
    if await process.wait() != 0:
        reason = errors[0] if errors else f"exit code {process.returncode}"
        raise StoreUnavailable("backup.failed", f"pg_dump failed: {reason}")
    if progress is not None:
        progress(tables, tables)


async def _run(command: list[str], path: Path, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()
        raise StoreUnavailable(
            "backup.corrupt",
            f"{path} cannot be read as a PostgreSQL dump: {reason[0] if reason else 'failed'}",
        )
    return out.decode(errors="replace")


def _read_copy_blocks(data: str) -> Contents:
    """Rows per table of pg_restore's COPY blocks, and the first row of each."""
    counts: dict[str, int] = {}
    first: dict[str, dict[str, str]] = {}
    table: str | None = None
    columns: list[str] = []
    for line in data.splitlines():
        if table is None:
            if match := _COPY.match(line):
                table = match.group(1)
                columns = [name.strip().strip('"') for name in match.group(2).split(",")]
                counts[table] = 0
        elif line == "\\.":
            table = None
        else:
            counts[table] += 1
            first.setdefault(table, dict(zip(columns, line.split("\t"), strict=False)))
    return Contents(
        revision=_cell(first, "alembic_version", "version_num"),
        counts={name: counts[name] for name in KEY_TABLES if name in counts},
        key_check=_cell(first, "instances", "key_check"),
    )


def _cell(first: dict[str, dict[str, str]], table: str, column: str) -> str | None:
    cell = first.get(table, {}).get(column)
    return None if cell in (None, "\\N") else cell


def _tool(name: str) -> str:
    """PostgreSQL's program `name`: on PATH, else the newest in Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if versions:
        return str(versions[-1])
    raise StoreUnavailable(
        "backup.no_pg_tools",
        f"{name} is not installed: install PostgreSQL's client programs "
        "(Debian: postgresql-client) of the server's version",
    )


def _pg_env(url: str) -> dict[str, str]:
    """libpq's variables for `url`: the password never appears on a command line."""
    parsed = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    given = {
        "PGHOST": parsed.host,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }
    env.update({name: value for name, value in given.items() if value})
    return env
