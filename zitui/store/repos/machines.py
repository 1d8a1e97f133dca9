"""Machine users' JWT-profile keys, personal access tokens and client secrets."""

from __future__ import annotations

from zitui.store.repos.base import Repository


class MachineRepository(Repository):
    pass
