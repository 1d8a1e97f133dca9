"""The SSH server of the operator console (asyncssh, in the zitui process).

Sign-in: a public key registered to the user whose login name is the SSH user name, or
keyboard-interactive with the user's password and then, when they have one, their second
factor (`ConsoleAccess`: the hosted login's password step, throttle and lockout). Only
managers get a console; anyone else reads one line saying so and is disconnected.

Each session runs the console in a process of its own on a pty (`zitui/ssh/console.py`),
and this module copies bytes between the SSH channel and the pty's master side and passes
window changes on (TIOCSWINSZ, which the kernel turns into SIGWINCH for the console). Why a
process and not a Textual driver on the channel: Textual has no SSH driver, and an app
redirects the process's stdout and stderr and keeps its state in context variables, so
several apps in the server's loop would share them; a process per session keeps one
operator's console (and a crash in it) away from the others and from the identity provider.
The cost, measured: 1.4 s from opening the session to the home screen with its
organisations, and 130 MB resident per console (the console imports Textual and opens the
store for itself), for the few operators an instance has. The console learns who signed in
through a one-time token sent over a pipe only it inherits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncssh

from zitui.config import Settings, split_listen
from zitui.core.auth import OperatorLogin
from zitui.core.context import RequestMeta
from zitui.core.services import Services
from zitui.errors import (
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    StoreUnavailable,
    ZituiError,
)
from zitui.ssh.console import ORIGIN
from zitui.ssh.host_key import load_or_create_host_key
from zitui.ssh.session import ConsoleSession

log = logging.getLogger(__name__)
CHALLENGE = "zitui console"
LOGIN_TIMEOUT_S = 60


@dataclass
class Runtime:
    """What every connection shares."""

    settings: Settings
    services: Services
    connections: set[ConsoleServer] = field(default_factory=set)
    # Audit records still being written (the end of a session), awaited on close.
    pending: set[asyncio.Task[None]] = field(default_factory=set)

    # Set while no connection is open and no record is being written.
    quiet: asyncio.Event = field(default_factory=asyncio.Event)

    def track(self, task: asyncio.Task[None]) -> None:
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.pending.discard(task)
        self.check_quiet()

    def opened(self, connection: ConsoleServer) -> None:
        self.connections.add(connection)
        self.quiet.clear()

    def closed(self, connection: ConsoleServer) -> None:
        self.connections.discard(connection)
        self.check_quiet()

    def check_quiet(self) -> None:
        if not self.connections and not self.pending:
            self.quiet.set()


@dataclass
class SshConsole:
    """The listening SSH server and its host key's fingerprint."""

    acceptor: asyncssh.SSHAcceptor
    fingerprint: str
    runtime: Runtime

    @property
    def port(self) -> int:
        return int(self.acceptor.get_port())

    async def close(self) -> None:
        """Stop listening and end every console (each end is recorded)."""
        self.acceptor.close()
        for connection in list(self.runtime.connections):
            await connection.end("shutdown")
        await self.acceptor.wait_closed()
        await self.settle()

    async def settle(self) -> None:
        """Wait until every connection has ended and its records are written."""
        self.runtime.check_quiet()
        await self.runtime.quiet.wait()


async def start_ssh_console(settings: Settings, services: Services) -> SshConsole:
    """Listen on `settings.ssh_listen`, with the host key of the data directory."""
    host, port = split_listen(settings.ssh_listen)
    key = load_or_create_host_key(settings.data_dir)
    runtime = Runtime(settings, services)
    try:
        acceptor = await asyncssh.create_server(
            lambda: ConsoleServer(runtime),
            host,
            port,
            server_host_keys=[key],
            public_key_auth=True,
            kbdint_auth=True,
            password_auth=False,
            allow_pty=True,
            line_editor=False,
            x11_forwarding=False,
            agent_forwarding=False,
            allow_scp=False,
            encoding=None,
            login_timeout=LOGIN_TIMEOUT_S,
        )
    except OSError as exc:
        reason = "the port is in use" if exc.errno == 98 else (exc.strerror or str(exc))
        raise StoreUnavailable(
            "listen.unavailable", f"cannot listen on {settings.ssh_listen} for SSH: {reason}"
        ) from exc
    fingerprint = str(key.get_fingerprint("sha256"))
    log.info("SSH console on %s, host key %s", settings.ssh_listen, fingerprint)
    return SshConsole(acceptor, fingerprint, runtime)


class ConsoleServer(asyncssh.SSHServer):
    """One SSH connection: its sign-in, its idle timer and its console sessions."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.conn: asyncssh.SSHServerConnection | None = None
        self.peer = ""
        self.username = ""
        self.key_fingerprint: str | None = None
        self.refused_keys: list[str] = []
        self.authenticated = False
        self.password = ""
        self.awaiting_code = False
        self.login: OperatorLogin | None = None
        self.refusal: str | None = None
        self.sessions: set[ConsoleSession] = set()
        self.idle: asyncio.TimerHandle | None = None

    @property
    def meta(self) -> RequestMeta:
        return RequestMeta(origin=ORIGIN, ip=self.peer, user_agent="ssh")

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.runtime.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused_keys and not self.authenticated:
            console = self.runtime.services.console
            failure = console.record_key_failure(self.username, self.refused_keys, self.meta)
            self.runtime.track(asyncio.get_running_loop().create_task(failure))
        if self.idle is not None:
            self.idle.cancel()
        for session in list(self.sessions):
            session.finish("closed")
        self.runtime.closed(self)

    def begin_auth(self, username: str) -> bool:
        self.username = username
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = str(key.get_fingerprint("sha256"))
        matches = await self.runtime.services.console.key_matches(username, fingerprint)
        if matches:
            self.key_fingerprint = fingerprint
        else:
            self.refused_keys.append(fingerprint)
        return matches

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(
        self, username: str, lang: str, submethods: str
    ) -> tuple[str, str, str, list[tuple[str, bool]]]:
        self.awaiting_code = False
        self.password = ""
        return (CHALLENGE, f"Sign in to zitui as {username}", "", [("Password: ", False)])

    async def validate_kbdint_response(
        self, username: str, responses: Sequence[str]
    ) -> bool | tuple[str, str, str, list[tuple[str, bool]]]:
        if len(responses) != 1:
            return False
        # The first answer is the password; a second one (when asked for) the code.
        password, factor = (
            (self.password, responses[0]) if self.awaiting_code else (responses[0], "")
        )
        console = self.runtime.services.console
        try:
            self.login = await console.sign_in_with_password(
                username, password, self.meta, code=factor
            )
        except PreconditionFailed as exc:
            if exc.code == "auth.second_factor_required" and not self.awaiting_code:
                self.awaiting_code, self.password = True, password
                instruction = "Enter a code of your authenticator app, or a recovery code"
                return (CHALLENGE, instruction, "", [("Code: ", True)])
            self.refusal = exc.message  # e.g. MFA forced before the user set up a factor
            return True
        except PermissionDenied as exc:  # signed in, but no manager
            self.refusal = exc.message
            return True
        except RateLimited as exc:
            self._banner(exc.message)
            return False
        except ZituiError as exc:
            log.info("SSH sign-in of %r from %s failed: %s", username, self.peer, exc.code)
            return False
        finally:
            if self.login is not None or self.refusal is not None:
                self.password = ""
        return True

    def auth_completed(self) -> None:
        self.authenticated = True
        self.touch()

    def session_requested(self) -> ConsoleSession:
        return ConsoleSession(self)

    def touch(self) -> None:
        """Input arrived: the idle timer starts again."""
        if self.idle is not None:
            self.idle.cancel()
        timeout = self.runtime.settings.ssh_idle_timeout_s
        self.idle = asyncio.get_running_loop().call_later(timeout, self._idle)

    def _idle(self) -> None:
        asyncio.get_running_loop().create_task(self.end("idle"))

    async def end(self, reason: str) -> None:
        """End every session (saying why) and the connection."""
        sessions = list(self.sessions)
        for session in sessions:
            session.say(_END_NOTES.get(reason, ""))
            session.last = True
            await session.stop(reason)
        if not sessions and self.conn is not None:
            self.conn.close()

    def _banner(self, message: str) -> None:
        if self.conn is not None:
            self.conn.send_auth_banner(f"zitui: {message}\r\n")


_END_NOTES = {
    "idle": "no input for too long; the connection ends",
    "shutdown": "zitui is stopping; the connection ends",
}


@contextlib.asynccontextmanager
async def serving_ssh(
    settings: Settings, services: Services, *, enabled: bool = True
) -> AsyncIterator[SshConsole | None]:
    """The SSH console while the block runs, when `ssh_listen` is set (and `enabled`)."""
    if not settings.ssh_listen or not enabled:
        yield None
        return
    console = await start_ssh_console(settings, services)
    try:
        yield console
    finally:
        await console.close()
