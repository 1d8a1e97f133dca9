"""Reading TOML tables by path: types, choices and unknown keys, each error naming its place."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from zitui.errors import InvalidArgument

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class BlueprintError(InvalidArgument):
    """A blueprint that cannot be applied; `path` is the place in the file (`orgs[1].name`)."""

    def __init__(self, path: str, problem: str, *, code: str = "blueprint.invalid") -> None:
        super().__init__(code, f"{path}: {problem}" if path else problem, field=path or None)
        self.path = path
        self.problem = problem

    def in_file(self, source: str) -> InvalidArgument:
        """The same error, prefixed with the file it was found in."""
        return InvalidArgument(self.code, f"{source}: {self.message}", field=self.field)


def join(path: str, key: str) -> str:
    shown = key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)
    return f"{path}.{shown}" if path else shown


def describe(value: object) -> str:
    """A value as the error message shows it: TOML spelling for scalars, a kind otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, date | time):
        return value.isoformat()
    return "a date or time"


def quoted(values: Sequence[str]) -> str:
    return ", ".join(values)


def clean_name(value: str) -> str:
    """Collapse white space as the services do, so a name found later is the name created."""
    return " ".join(value.split())


class Table:
    """One TOML table of the blueprint; its keys are checked against `keys` on creation."""

    def __init__(self, value: object, path: str, keys: Sequence[str]) -> None:
        if not isinstance(value, dict):
            raise BlueprintError(path, f"expected a table, got {describe(value)}")
        for key in value:
            if key not in keys:
                raise BlueprintError(join(path, key), _unknown(key, keys))
        self.path = path
        self._data: dict[str, Any] = value

    def at(self, key: str) -> str:
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self._data

    @property
    def given(self) -> frozenset[str]:
        """The keys the file sets here (the rest take defaults on creation only)."""
        return frozenset(self._data)

    def raw(self, key: str) -> object:
        """The value at `key` as TOML gave it (None when missing), for a table whose keys
        follow rules of their own (custom texts are keyed by catalogue keys)."""
        return self._data.get(key)

    def text(self, key: str, *, default: str | None = None, name: bool = False) -> str:
        """A string; `name=True` collapses white space and refuses an empty one."""
        value = self._data.get(key, default)
        if value is None:
            raise BlueprintError(self.at(key), "required key is missing")
        if not isinstance(value, str):
            raise BlueprintError(self.at(key), f"expected a string, got {describe(value)}")
        if name:
            value = clean_name(value)
            if not value:
                raise BlueprintError(self.at(key), "must not be empty")
        return value

    def flag(self, key: str, *, default: bool = False) -> bool:
        value = self._data.get(key, default)
        if not isinstance(value, bool):
            raise BlueprintError(self.at(key), f"expected true or false, got {describe(value)}")
        return value

    def number(self, key: str, *, default: int, low: int, high: int) -> int:
        value = self._data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BlueprintError(self.at(key), f"expected a whole number, got {describe(value)}")
        if not low <= value <= high:
            raise BlueprintError(self.at(key), f"expected {low} to {high}, got {value}")
        return value

    def choice(self, key: str, choices: Sequence[str], *, default: str | None = None) -> str:
        value = self._data.get(key, default)
        if value is None:
            raise BlueprintError(self.at(key), "required key is missing")
        if not isinstance(value, str) or value not in choices:
            raise BlueprintError(
                self.at(key), f"expected one of {quoted(choices)}, got {describe(value)}"
            )
        return value

    def switch(self, key: str, keys: Sequence[str]) -> bool | Table:
        """An on/off key that may carry options: `true`, `false`, or a table of `keys` (on)."""
        value = self._data.get(key, False)
        if isinstance(value, bool):
            return value
        if not isinstance(value, dict):
            raise BlueprintError(
                self.at(key),
                f"expected true, false or a table with {quoted(keys)}, got {describe(value)}",
            )
        return Table(value, self.at(key), keys)

    def moment(self, key: str) -> datetime | None:
        """A date or a date and time, TOML's own or an ISO 8601 string, in UTC.

        A date means its first moment; a time without a zone is UTC. Missing means None.
        """
        value = self._data.get(key)
        if value is None:
            return None
        parsed = value
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                parsed = None
        if isinstance(parsed, datetime):
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(parsed, date):
            return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
        raise BlueprintError(
            self.at(key),
            "expected a date (2027-01-31) or a date and time (2027-01-31T12:00:00Z), "
            f"got {describe(value)}",
        )

    def texts(self, key: str) -> tuple[str, ...]:
        """An array of distinct, non-empty strings (missing means empty)."""
        value = self._data.get(key, [])
        if not isinstance(value, list):
            raise BlueprintError(
                self.at(key), f"expected an array of strings, got {describe(value)}"
            )
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            where = f"{self.at(key)}[{index}]"
            if not isinstance(item, str):
                raise BlueprintError(where, f"expected a string, got {describe(item)}")
            if not item.strip():
                raise BlueprintError(where, "must not be empty")
            if item in seen:
                raise BlueprintError(where, f"{describe(item)} is listed twice")
            seen[item] = index
        return tuple(value)

    def table(self, key: str, keys: Sequence[str]) -> Table | None:
        if key not in self._data:
            return None
        return Table(self._data[key], self.at(key), keys)

    def tables(self, key: str, keys: Sequence[str]) -> list[Table]:
        """An array of tables (`[[key]]` or an array of inline tables); missing means none."""
        value = self._data.get(key, [])
        if not isinstance(value, list):
            raise BlueprintError(
                self.at(key), f"expected an array of tables, got {describe(value)}"
            )
        return [Table(item, f"{self.at(key)}[{i}]", keys) for i, item in enumerate(value)]


def _unknown(key: str, keys: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown key{hint}; expected one of {quoted(keys)}"
