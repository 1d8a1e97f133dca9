"""The store: tables, repositories and migrations behind one `Store` object."""

from zitui.store.repos import Repositories
from zitui.store.repos.events import EventFilter
from zitui.store.store import Store, migrate, open_store

__all__ = ["EventFilter", "Repositories", "Store", "migrate", "open_store"]
