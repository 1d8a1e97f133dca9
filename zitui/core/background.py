"""Periodic work of a server process (the purge, the mail sender), run beside the requests.

`every` repeats a round after a pause until cancelled; a failed round is logged and the next
one tries again (the store may be locked by a backup for a while). `in_background` runs such a
loop as a task for the duration of a block, then cancels and awaits it, so none is left
pending at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from zitui.errors import ZituiError

Pause = Callable[[float], Awaitable[None]]


async def every(
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    *,
    pause: Pause,
    what: str,
    log: logging.Logger,
) -> None:
    """Run `work` every `interval_s` seconds until cancelled."""
    while True:
        await pause(interval_s)
        try:
            await work()
        except ZituiError as exc:  # the store locked or unavailable for a while
            log.warning("%s failed: %s (%s)", what, exc.message, exc.code)
        except Exception:
            log.exception("%s failed", what)


@asynccontextmanager
async def in_background(
    run: Callable[[], Coroutine[Any, Any, None]], *, name: str
) -> AsyncIterator[asyncio.Task[None]]:
    """`run()` as a task for the duration of the block, then cancelled and awaited."""
    task = asyncio.create_task(run(), name=name)
    try:
        yield task
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # our own caller is being cancelled: pass it on
