"""Grants: projects shared with other organisations, and users' roles in projects."""

from __future__ import annotations

from zitui.core.project_grants import ProjectGrants
from zitui.core.user_grants import UserGrants


class GrantService(ProjectGrants, UserGrants):
    """Project grants (`project_grants.py`) and user grants (`user_grants.py`) in one service.

    The two halves live in their own modules to keep each readable; they share the store and
    the authorizer that `ProjectGrants.__init__` sets.
    """
