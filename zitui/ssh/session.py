"""One SSH session of the operator console: the console process on a pty, and the bytes
and window changes between it and the SSH channel (why a process: zitui/ssh/server.py)."""

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
from typing import TYPE_CHECKING

import asyncssh

from zitui.core.auth import OperatorLogin
from zitui.errors import PermissionDenied, PreconditionFailed, Unauthenticated, ZituiError
from zitui.ssh.console import COMMAND, handoff_payload

if TYPE_CHECKING:
    from zitui.ssh.server import ConsoleServer

log = logging.getLogger(__name__)
READ_SIZE = 65536
DEFAULT_TERM = "xterm-256color"
# What the console process gets of the client's environment (`SendEnv` in OpenSSH).
CLIENT_ENV = ("COLORTERM", "LANG", "LC_ALL", "NO_COLOR")


def console_command(fd: int) -> list[str]:
    """The command of a console process reading its hand-off from `fd`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, COMMAND, str(fd)]
    return [sys.executable, "-m", "zitui", COMMAND, str(fd)]


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
            # A hang-up first, a kill when the console has not ended within the grace time.
            loop.run_in_executor(None, self._end_process)
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
