"""The process write lock: zitui's processes take turns at writing to one SQLite file."""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import threading
from pathlib import Path

# Tries of the process lock, each after one turn of the loop, before a thread waits for it.
_SPINS = 4


class ProcessWriteLock:
    """An exclusive `flock` on `<database>.lock`, which every zitui process holding a store
    takes before `BEGIN IMMEDIATE`.

    SQLite's own lock can only be polled without blocking the loop, and a poller loses to the
    process that just committed and begins again at once: with two `serve` workers writing,
    one starved for hundreds of milliseconds. A blocked `flock` is woken by the kernel the
    moment the holder lets go. The wait runs in one daemon thread per store, so the loop goes
    on serving; a wait abandoned (timeout, cancellation) releases the lock at once if it
    arrives later. Within a process one writer at a time reaches it (the asyncio lock).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1
        self._waits: queue.SimpleQueue[_Wait | None] = queue.SimpleQueue()
        self._waiter: threading.Thread | None = None

    async def acquire(self, timeout_s: float) -> None:
        if self._fd < 0:  # opened on first use, and again after `close`
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Another process holds it for the fraction of a millisecond its insert takes: let
        # the loop serve others a few times before handing the wait to the waiting thread.
        for _ in range(_SPINS):
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                await asyncio.sleep(0)
        if self._waiter is None:
            self._waiter = threading.Thread(
                target=self._wait_for_turns, name="zitui-write-lock", daemon=True
            )
            self._waiter.start()
        wait = _Wait(asyncio.get_running_loop())
        self._waits.put(wait)
        try:
            # Not `asyncio.wait_for`: on Python 3.11 it returns the result and drops the
            # cancellation (Ctrl-C) that lands as the awaited future completes.
            async with asyncio.timeout(timeout_s):
                await wait.done
        except BaseException:
            with wait.mutex:
                wait.abandoned = True
                if wait.held:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            raise

    def _wait_for_turns(self) -> None:
        """The waiting thread: takes the lock for each waiting writer in turn."""
        while (wait := self._waits.get()) is not None:
            with wait.mutex:
                if wait.abandoned:
                    continue
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with wait.mutex:
                if wait.abandoned:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    continue
                wait.held = True
            wait.loop.call_soon_threadsafe(_resolve, wait.done)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._waiter is not None:
            self._waits.put(None)
            self._waiter = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _Wait:
    """One writer waiting for its turn; `mutex` settles a race between arrival and giving up."""

    __slots__ = ("loop", "done", "mutex", "abandoned", "held")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        self.mutex = threading.Lock()
        self.abandoned = False
        self.held = False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
