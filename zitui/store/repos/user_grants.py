"""User grants (authorizations)."""

from __future__ import annotations

from zitui.store.repos.base import Repository


class UserGrantRepository(Repository):
    pass
