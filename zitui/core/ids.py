"""Opaque, time-ordered identifiers in the UUIDv7 layout (RFC 9562 §5.7).

Within one process they are strictly increasing: ids made in the same millisecond use the
12-bit `rand_a` field as a counter (RFC 9562 §6.2, method 1), so the audit log sorts by id.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, counter)


def _next_stamp() -> tuple[int, int]:
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, counter = _last
        if millis <= last_millis:
            millis, counter = last_millis, counter + 1
            if counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                millis, counter = millis + 1, secrets.randbits(11)
        else:
            counter = secrets.randbits(11)
        _last = (millis, counter)
        return millis, counter


def new_id() -> str:
    millis, counter = _next_stamp()
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))
