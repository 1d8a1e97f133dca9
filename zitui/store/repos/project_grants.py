"""Projects shared with other organisations."""

from __future__ import annotations

from zitui.store.repos.base import Repository


class ProjectGrantRepository(Repository):
    pass
