"""The supervisor of `zitui serve --workers`: how it judges the way its workers end."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from zitui.workers import _supervise


@pytest.fixture
def own_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _child(exit_code: int | None) -> int:
    """A worker stand-in: still setting up (default SIGTERM), or ending at once with a code."""
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if exit_code is not None:
            os._exit(exit_code)
        while True:
            time.sleep(1)
    return pid


def test_a_worker_stopped_while_setting_up_is_a_clean_stop(own_handlers: None) -> None:
    """SIGTERM reaches a worker before its server installed a handler: it dies of the signal
    we sent, which is no failure (a race `serve --workers` lost under load)."""
    children = {_child(None): 0, _child(None): 1}
    signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        assert _supervise(children) == 0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def test_a_worker_that_ends_on_its_own_fails_the_set(own_handlers: None) -> None:
    children = {_child(3): 0, _child(None): 1}
    assert _supervise(children) == 1
