"""A progress bar for long commands: redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

import threading
from typing import TextIO

BAR_WIDTH = 30
# Off a terminal (a log, a pipe, cron's mail) one line per this many percent.
PLAIN_STEP_PERCENT = 10


class ProgressBar:
    """Called with (done, total) from any thread; `finish()` ends the bar's line."""

    def __init__(self, stream: TextIO, label: str, *, unit: str = "") -> None:
        self._stream = stream
        self._label = label
        self._unit = unit
        self._tty = stream.isatty()
        self._lock = threading.Lock()
        self._shown = -PLAIN_STEP_PERCENT
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        with self._lock:
            if self._tty:
                self._draw(percent, done, total)
            elif percent >= self._shown + PLAIN_STEP_PERCENT or (
                percent == 100 and self._shown < 100
            ):
                self._stream.write(f"{self._label}: {percent}%{self._count(done, total)}\n")
                self._stream.flush()
                self._shown = percent

    def _draw(self, percent: int, done: int, total: int) -> None:
        if percent == self._shown:
            return
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"\r{self._label} [{bar}] {percent:3d}%{self._count(done, total)}"
        self._stream.write(line)
        self._stream.flush()
        self._shown = percent
        self._drawn = True

    def _count(self, done: int, total: int) -> str:
        return f" ({done}/{total} {self._unit})" if self._unit else ""

    def finish(self) -> None:
        with self._lock:
            if self._tty and self._drawn:
                self._stream.write("\n")
                self._stream.flush()
                self._drawn = False
