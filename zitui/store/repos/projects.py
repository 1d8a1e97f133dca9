"""Projects and their roles."""

from __future__ import annotations

from zitui.store.repos.base import Repository


class ProjectRepository(Repository):
    pass
