"""The console process of one SSH session: it runs on the session's pty and acts as the user
who signed in.

The SSH server starts it as `zitui _ssh-console FD`, where FD is the read end of a pipe only
it inherits. Through it come the server's settings and a one-time hand-off token
(`ConsoleAccess.hand_off`), never on the command line or in the environment, where other
local users could read them. The token is redeemed against the store, which loads the user
and their memberships again; then the console starts on the home screen, and signing out
ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import termios
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from zitui.config import Settings
from zitui.core.context import RequestMeta
from zitui.errors import ZituiError

COMMAND = "_ssh-console"
ORIGIN = "ssh"


def handoff_payload(settings: Settings, token: str, peer: str) -> bytes:
    """What the server writes into the console's pipe."""
    values = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()}
    return json.dumps({"settings": values, "token": token, "peer": peer}).encode()


def read_handoff(fd: int) -> tuple[Settings, str, str]:
    with os.fdopen(fd, "rb") as pipe:
        payload: dict[str, Any] = json.loads(pipe.read())
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in payload["settings"].items() if k in known}
    values["data_dir"] = Path(values["data_dir"])
    return Settings(**values), str(payload["token"]), str(payload["peer"])


def main(argv: list[str]) -> int:
    """`zitui _ssh-console FD`: only the SSH server starts it."""
    if len(argv) != 1 or not argv[0].isdigit():
        print("zitui: _ssh-console is started by the SSH server only", file=sys.stderr)
        return 2
    settings, token, peer = read_handoff(int(argv[0]))
    # A hang-up (the SSH channel closed, the pty's master with it) ends the console at once.
    # An inherited "ignore" (a server started under nohup) would leave it spinning on a dead
    # terminal, so the default action is set here, not assumed.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    _take_terminal()
    from zitui.cli import configure_logging

    configure_logging(settings, to_stderr=False)
    try:
        return asyncio.run(run_console(settings, token, peer))
    except ZituiError as exc:
        print(f"zitui: {exc.message}", file=sys.stderr)
        return 1


def _take_terminal() -> None:
    """Make the pty on stdin this session's controlling terminal, so window changes reach
    the console as SIGWINCH. The server starts the console as a session leader; a one-file
    binary runs it in a child of its boot loader instead, which needs a session of its own
    first."""
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        with contextlib.suppress(OSError):
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def run_console(settings: Settings, token: str, peer: str) -> int:
    from zitui.core.services import open_services
    from zitui.screens.app import make_app

    services, _ = await open_services(settings, first_run=False)
    try:
        login = await services.console.redeem(token, RequestMeta(origin=ORIGIN, ip=peer))
        app = make_app(services, signed_in=login, leave_on_sign_out=True)
        await app.run_async()
        return app.return_code or 0
    finally:
        await services.close()
