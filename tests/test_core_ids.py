"""Identifiers: UUIDv7 layout, unique and increasing within a process."""

from __future__ import annotations

import uuid

from zitui.core.ids import new_id


def test_ids_are_version_7_and_strictly_increasing():
    ids = [new_id() for _ in range(5000)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
