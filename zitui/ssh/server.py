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
The cost is a start of about a second and some 60 MB per console, for the few operators an
instance has. The console learns who signed in through a one-time token sent over a pipe
only it inherits.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import struct
import subprocess
import sys
import termios
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
    Unauthenticated,
    ZituiError,
)
from zitui.ssh.console import COMMAND, ORIGIN, handoff_payload
from zitui.ssh.host_key import load_or_create_host_key

log = logging.getLogger(__name__)
CHALLENGE = "zitui console"
READ_SIZE = 65536
LOGIN_TIMEOUT_S = 60
DEFAULT_TERM = "xterm-256color"
# What the console process gets of the client's environment (`SendEnv` in OpenSSH).
CLIENT_ENV = ("COLORTERM", "LANG", "LC_ALL", "NO_COLOR")


def console_command(fd: int) -> list[str]:
    """The command of a console process reading its hand-off from `fd`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, COMMAND, str(fd)]
    return [sys.executable, "-m", "zitui", COMMAND, str(fd)]


@dataclass
class Runtime:
    """What every connection shares."""

    settings: Settings
    services: Services
    connections: set[ConsoleServer] = field(default_factory=set)
    # Audit records still being written (the end of a session), awaited on close.
    pending: set[asyncio.Task[None]] = field(default_factory=set)

    def track(self, task: asyncio.Task[None]) -> None:
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)


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
        """Wait for the audit records of ended sessions."""
        while self.runtime.pending:
            await asyncio.gather(*self.runtime.pending)


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
        self.runtime.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.runtime.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()
        for session in list(self.sessions):
            session.finish("closed")

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
        code = responses[0] if self.awaiting_code else ""
        password = self.password if self.awaiting_code else responses[0]
        console = self.runtime.services.console
        try:
            self.login = await console.sign_in_with_password(
                username, password, self.meta, code=code
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
        except (Unauthenticated, ZituiError) as exc:
            log.info("SSH sign-in of %r from %s failed: %s", username, self.peer, exc.code)
            return False
        finally:
            if self.login is not None or self.refusal is not None:
                self.password = ""
        return True

    def auth_completed(self) -> None:
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


class ConsoleSession(asyncssh.SSHServerSession[bytes]):
    """One session channel: the console process on a pty, and the bytes both ways."""

    def __init__(self, server: ConsoleServer) -> None:
        self.server = server
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None
        self.term_type = ""
        self.size = (80, 24, 0, 0)
        self.master: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.login: OperatorLogin | None = None
        self.pending = b""
        self.stopping = False
        self.ended = False
        # The connection ends with this session (a refusal, the idle timeout), once the
        # channel's last bytes and exit status are out.
        self.last = False

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:  # type: ignore[override]
        self.chan = chan
        self.server.sessions.add(self)

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: object
    ) -> bool:
        self.term_type = term_type or DEFAULT_TERM
        if term_size[0] and term_size[1]:
            self.size = term_size
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        asyncio.get_running_loop().create_task(self._start())

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.server.touch()
        if self.master is None:
            return
        self.pending += data
        self._flush()

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self.size = (width, height, pixwidth, pixheight)
        if self.master is not None:
            _set_size(self.master, self.size)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish("closed")
        if self.last and self.server.conn is not None:
            self.server.conn.close()

    def say(self, line: str) -> None:
        if line and self.chan is not None and not self.chan.is_closing():
            self.chan.write(f"\r\nzitui: {line}\r\n".encode())

    async def _start(self) -> None:
        assert self.chan is not None
        try:
            self.login = await self._sign_in()
            if not self.term_type:
                raise PreconditionFailed(
                    "console.no_terminal", "the console needs a terminal: connect with ssh -t"
                )
            token = await self.server.runtime.services.console.hand_off(self.login)
            self._spawn(token)
        except ZituiError as exc:
            self.say(exc.message)
            self.last = True
            self.chan.exit(1)
        except Exception:
            log.exception("the SSH console of %s could not start", self.server.username)
            self.say("the console could not start; see the server's log")
            self.chan.exit(1)

    async def _sign_in(self) -> OperatorLogin:
        server = self.server
        if server.refusal is not None:
            raise PermissionDenied("auth.not_manager", server.refusal)
        if server.login is not None:
            return server.login
        if server.key_fingerprint is None:
            raise Unauthenticated("auth.required", "sign in first")
        console = server.runtime.services.console
        login = await console.sign_in_with_key(server.username, server.key_fingerprint, server.meta)
        server.login = login
        return login

    def _spawn(self, token: str) -> None:
        runtime = self.server.runtime
        master, slave = os.openpty()
        _set_size(master, self.size)
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, handoff_payload(runtime.settings, token, self.server.peer))
        finally:
            os.close(write_end)
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - our own executable, no shell
                console_command(read_end),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                pass_fds=(read_end,),
                start_new_session=True,
                env=self._environment(),
                close_fds=True,
            )
        finally:
            os.close(slave)
            os.close(read_end)
        os.set_blocking(master, False)
        self.master = master
        asyncio.get_running_loop().add_reader(master, self._pump)

    def _environment(self) -> dict[str, str]:
        env = {
            "TERM": self.term_type,
            "LANG": "C.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
        }
        assert self.chan is not None
        for name, value in self.chan.get_environment().items():
            key = name.decode() if isinstance(name, bytes) else str(name)
            if key in CLIENT_ENV:
                env[key] = value.decode() if isinstance(value, bytes) else str(value)
        return env

    def _pump(self) -> None:
        """The console wrote to its terminal: send it to the client."""
        assert self.master is not None and self.chan is not None
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the console closed its terminal
        if not data:
            asyncio.get_running_loop().create_task(self.stop("closed"))
            return
        self.chan.write(data)

    def _flush(self) -> None:
        """Keys for the console: written as the pty takes them (a paste may not fit at once)."""
        if self.master is None:
            return
        loop = asyncio.get_running_loop()
        try:
            written = os.write(self.master, self.pending)
        except BlockingIOError:
            written = 0
        except OSError:
            self.pending = b""
            return
        self.pending = self.pending[written:]
        loop.remove_writer(self.master)
        if self.pending:
            loop.add_writer(self.master, self._flush)

    async def stop(self, reason: str) -> None:
        """End the console process and the channel, with its exit status."""
        if self.ended or self.stopping:
            return
        self.stopping = True
        status = await asyncio.to_thread(self._end_process)
        if self.chan is not None and not self.chan.is_closing():
            self.chan.exit(status)
        self.finish(reason)

    def _end_process(self) -> int:
        proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGHUP)
            try:
                return proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()

    def finish(self, reason: str) -> None:
        """Let go of the pty and record the end (once)."""
        if self.ended:
            return
        self.ended = True
        self.server.sessions.discard(self)
        loop = asyncio.get_running_loop()
        if self.master is not None:
            loop.remove_reader(self.master)
            loop.remove_writer(self.master)
            os.close(self.master)
            self.master = None
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGHUP)
            loop.run_in_executor(None, self.proc.wait)
        if self.login is not None:
            runtime = self.server.runtime
            runtime.track(
                loop.create_task(
                    runtime.services.console.record_end(self.login.context, reason=reason)
                )
            )


def _set_size(fd: int, size: tuple[int, int, int, int]) -> None:
    width, height, pixwidth, pixheight = size
    packed = struct.pack("HHHH", height, width, pixwidth, pixheight)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)


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
