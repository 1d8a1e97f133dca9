"""OIDC applications of projects."""

from __future__ import annotations

from zitui.store.repos.base import Repository


class AppRepository(Repository):
    pass
