"""What a database failure becomes: `StoreUnavailable`, with a code that says why."""

from __future__ import annotations

import sqlite3
from typing import NoReturn

from sqlalchemy import exc as sa_exc

from zitui import metrics
from zitui.errors import StoreUnavailable


def reraise(exc: BaseException) -> NoReturn:
    """Raise what a failure inside a transaction becomes: an unusable database is
    StoreUnavailable; an IntegrityError (a repository's bug, or a race it handles) and
    anything else are raised as they are."""
    if isinstance(exc, sa_exc.DatabaseError | sqlite3.DatabaseError) and not isinstance(
        exc, sa_exc.IntegrityError | sqlite3.IntegrityError
    ):
        raise translate_database_error(exc) from exc
    raise exc


def translate_database_error(exc: sa_exc.DatabaseError | sqlite3.Error) -> StoreUnavailable:
    message = str(exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc)
    if "locked" in message or "busy" in message:
        error = StoreUnavailable(
            "store.locked", "the store is locked by another process; try again in a moment"
        )
    else:
        error = StoreUnavailable("store.unavailable", f"the store cannot be used: {message}")
    metrics.count_store_error(error.code)
    return error
