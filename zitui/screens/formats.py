"""How the console writes and reads times, flags and field lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from zitui.errors import InvalidArgument

TIME_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def aligned(rows: Sequence[tuple[str, str]]) -> str:
    """`label  value` lines with the values in one column."""
    width = max((len(label) for label, _ in rows), default=0) + 2
    return "\n".join(f"{label.ljust(width)}{value}" for label, value in rows)


def parse_time(text: str, *, field: str) -> datetime | None:
    """A UTC moment typed as 2026-11-26, 2026-11-26 09:00 or 2026-11-26 09:00:00."""
    text = text.strip()
    if not text:
        return None
    for pattern in TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidArgument(
        f"{field}.invalid",
        "write the time as 2026-11-26 or 2026-11-26 09:00 (UTC)",
        field=field,
    )
