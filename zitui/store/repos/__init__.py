"""Repositories: the only SQL in zitui. One per aggregate, all bound to one connection."""

from __future__ import annotations

from zitui.store.repos.app_keys import AppKeyRepository
from zitui.store.repos.apps import AppRepository
from zitui.store.repos.base import Connection
from zitui.store.repos.events import EventRepository
from zitui.store.repos.instances import InstanceRepository
from zitui.store.repos.keys import SigningKeyRepository
from zitui.store.repos.machines import MachineRepository
from zitui.store.repos.memberships import MembershipRepository
from zitui.store.repos.oidc import AuthRequestRepository, OidcClientRepository
from zitui.store.repos.orgs import OrgRepository
from zitui.store.repos.policies import PolicyRepository
from zitui.store.repos.project_grants import ProjectGrantRepository
from zitui.store.repos.projects import ProjectRepository
from zitui.store.repos.sessions import SessionRepository
from zitui.store.repos.smtp import SmtpRepository
from zitui.store.repos.tokens import AccessTokenRepository, RefreshTokenRepository
from zitui.store.repos.user_grants import UserGrantRepository
from zitui.store.repos.users import UserRepository


class Repositories:
    """What a transaction offers; every repository shares its connection."""

    def __init__(self, conn: Connection) -> None:
        self.instances = InstanceRepository(conn)
        self.orgs = OrgRepository(conn)
        self.users = UserRepository(conn)
        self.memberships = MembershipRepository(conn)
        self.policies = PolicyRepository(conn)
        self.signing_keys = SigningKeyRepository(conn)
        self.events = EventRepository(conn)
        self.machines = MachineRepository(conn)
        self.smtp = SmtpRepository(conn)
        self.projects = ProjectRepository(conn)
        self.apps = AppRepository(conn)
        self.project_grants = ProjectGrantRepository(conn)
        self.user_grants = UserGrantRepository(conn)
        self.app_keys = AppKeyRepository(conn)
        self.auth_requests = AuthRequestRepository(conn)
        self.oidc_clients = OidcClientRepository(conn)
        self.access_tokens = AccessTokenRepository(conn)
        self.refresh_tokens = RefreshTokenRepository(conn)
        self.sessions = SessionRepository(conn)
