"""The `zitui` command: start, serve, tui, apply, and --version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from zitui import __version__
from zitui.config import Settings, load_settings
from zitui.errors import ZituiError

Command = Callable[[Settings], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        dest="data_dir",
        metavar="DIR",
        help="instance directory (env ZITUI_DATA, default ./data)",
    )
    common.add_argument("--config", metavar="FILE", help="TOML settings file (env ZITUI_CONFIG)")
    network = argparse.ArgumentParser(add_help=False)
    network.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to serve on (env ZITUI_LISTEN, default localhost:8080)",
    )
    network.add_argument(
        "--external-url",
        dest="external_url",
        metavar="URL",
        help="public URL and OIDC issuer (env ZITUI_EXTERNAL_URL)",
    )
    network.add_argument(
        "--ssh",
        dest="ssh_listen",
        metavar="HOST:PORT",
        help="serve the operator console over SSH there (env ZITUI_SSH_LISTEN, default off)",
    )

    parser = argparse.ArgumentParser(
        prog="zitui", description="A self-hosted identity provider with an operator TUI."
    )
    parser.add_argument("--version", action="version", version=f"zitui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "start",
        parents=[common, network],
        help="run the server and the operator TUI in one process",
    )
    serve = commands.add_parser(
        "serve", parents=[common, network], help="run the server only (SIGTERM stops it cleanly)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the port; 0 = one per CPU (env ZITUI_WORKERS, default 1)",
    )
    commands.add_parser("tui", parents=[common], help="run the operator TUI only")
    apply = commands.add_parser(
        "apply",
        parents=[common],
        help="provision organisations, users, projects and apps from a blueprint file",
    )
    apply.add_argument("blueprint", metavar="FILE.toml", type=Path, help="the blueprint")
    apply.add_argument(
        "--out",
        metavar="CREDS.json",
        type=Path,
        help="write the credentials created to this file (mode 0600; default: standard output)",
    )
    recover = commands.add_parser(
        "recover",
        parents=[common],
        help="unlock a user and set a one-time password, offline (no sign-in needed)",
    )
    recover.add_argument(
        "--user",
        dest="login_name",
        metavar="LOGINNAME",
        required=True,
        help="the user's login name (username@domain, or a username no one else has)",
    )
    apply.add_argument(
        "--external-url",
        dest="external_url",
        metavar="URL",
        help="public URL and OIDC issuer; sets the instance domain on a first run",
    )
    _add_backup_commands(commands, common)
    return parser


def _add_backup_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    backup = commands.add_parser(
        "backup",
        parents=[common],
        help="copy the store to a new file while zitui runs, and check the copy",
        description="Copy the store (SQLite's online backup; pg_dump for PostgreSQL) into FILE "
        "while servers keep running, then check the copy: integrity, schema revision and the "
        "row counts of the main tables. FILE is written with mode 0600 and appears only once "
        "checked. The master key is not in it: keep it (and the SSH host key) apart.",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the new backup file")
    restore = commands.add_parser(
        "restore",
        parents=[common],
        help="restore a backup into an empty data directory",
        description="Restore FILE into the data directory given by --data (new or empty; the "
        "masterkey file and the SSH host key may be there). The backup's integrity is checked "
        "first, then that the master key in place (ZITUI_MASTERKEY or DIR/masterkey) opens "
        "it; either failing leaves the directory as it was.",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="a file made by zitui backup")


def configure_logging(settings: Settings, *, to_stderr: bool, to_file: bool = True) -> None:
    """Logs go to data/logs/zitui.log; to stderr as well only when no TUI owns the terminal."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are set-up noise
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if to_file:
        _log_to_file(settings, root, formatter)
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)


def _log_to_file(settings: Settings, root: logging.Logger, formatter: logging.Formatter) -> None:
    from zitui.store.files import private_dir

    try:
        private_dir(settings.data_dir)
        private_dir(settings.log_dir)
        handler = logging.handlers.RotatingFileHandler(
            settings.log_dir / "zitui.log", maxBytes=10_000_000, backupCount=3
        )
    except OSError:
        return  # the store check that follows reports the unusable directory in one line
    handler.setFormatter(formatter)
    root.addHandler(handler)


def _commands(args: argparse.Namespace) -> dict[str, Command]:
    from zitui import backup_commands, runner

    def apply(settings: Settings) -> Coroutine[Any, Any, int]:
        return runner.apply(settings, args.blueprint, args.out)

    def recover(settings: Settings) -> Coroutine[Any, Any, int]:
        return runner.recover(settings, args.login_name)

    return {
        "start": runner.start,
        "serve": runner.serve,
        "tui": runner.run_tui,
        "apply": apply,
        "recover": recover,
        "backup": lambda settings: backup_commands.backup(settings, args.file),
        "restore": lambda settings: backup_commands.restore(settings, args.file),
    }


def _loop_factory(command: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the server alone; the TUI keeps the standard loop Textual is tested on."""
    if command != "serve":
        return None
    import uvloop

    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["_ssh-console"]:  # a console process of the SSH server (zitui/ssh/)
        from zitui.ssh.console import main as console_main

        return console_main(given[1:])
    args = build_parser().parse_args(given)
    # SIGINT interrupts zitui however it was started. A script's background job inherits
    # SIGINT ignored, and asyncio.Runner turns SIGINT into a cancellation of the set-up only
    # when Python's default handler is in place; `serve` installs its own handler after.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("zitui: interrupted; nothing half-done was kept", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = load_settings(flags)
    except ZituiError as exc:
        print(f"zitui: {exc.message}", file=sys.stderr)
        return 2
    # `recover` only works on an existing data directory, and creates none for a mistyped one.
    # `restore` needs its data directory empty: it logs nowhere but the terminal.
    to_file = args.command != "restore" and (
        args.command not in ("recover", "backup") or settings.data_dir.is_dir()
    )
    configure_logging(settings, to_stderr=args.command == "serve", to_file=to_file)
    if args.command == "serve" and settings.worker_count > 1:
        from zitui.workers import serve_with_workers

        return serve_with_workers(settings)
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.command)) as loop_runner:
            return loop_runner.run(_commands(args)[args.command](settings))
    except ZituiError as exc:
        print(f"zitui: {exc.message}", file=sys.stderr)
        return 1
