"""Repositories: the only SQL in zitui. One per aggregate, all bound to one connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, overload

from zitui.store.repos.app_keys import AppKeyRepository
from zitui.store.repos.apps import AppRepository
from zitui.store.repos.base import Connection, Repository
from zitui.store.repos.branding import BrandingRepository
from zitui.store.repos.custom_texts import CustomTextRepository
from zitui.store.repos.events import EventRepository
from zitui.store.repos.factors import FactorRepository
from zitui.store.repos.idps import IdpLinkRepository, IdpRepository
from zitui.store.repos.instances import InstanceRepository
from zitui.store.repos.keys import SigningKeyRepository
from zitui.store.repos.login_flows import LoginFlowRepository
from zitui.store.repos.machines import MachineRepository
from zitui.store.repos.memberships import MembershipRepository
from zitui.store.repos.oidc import AuthRequestRepository, OidcClientRepository
from zitui.store.repos.orgs import OrgRepository
from zitui.store.repos.outbox import OutboxRepository
from zitui.store.repos.policies import PolicyRepository
from zitui.store.repos.project_grants import ProjectGrantRepository
from zitui.store.repos.projects import ProjectRepository
from zitui.store.repos.purge import PurgeRepository
from zitui.store.repos.sessions import SessionRepository
from zitui.store.repos.sms import SmsRepository
from zitui.store.repos.smtp import SmtpRepository
from zitui.store.repos.ssh_keys import SshKeyRepository
from zitui.store.repos.throttles import ThrottleRepository
from zitui.store.repos.tokens import AccessTokenRepository, RefreshTokenRepository
from zitui.store.repos.used_assertions import UsedAssertionRepository
from zitui.store.repos.user_codes import UserCodeRepository
from zitui.store.repos.user_grants import UserGrantRepository
from zitui.store.repos.users import UserRepository

R = TypeVar("R", bound=Repository)


class _repository(Generic[R]):  # noqa: N801 - used like a decorator-made attribute
    """A repository made on first access and kept on the instance."""

    def __init__(self, kind: type[R]) -> None:
        self.kind = kind

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _repository[R]: ...

    @overload
    def __get__(self, instance: Repositories, owner: type) -> R: ...

    def __get__(self, instance: Repositories | None, owner: type) -> R | _repository[R]:
        if instance is None:
            return self
        made = self.kind(instance._conn)
        instance.__dict__[self.name] = made  # later reads skip this descriptor
        return made


class Repositories:
    """What a transaction offers; every repository shares its connection.

    Each repository is made on first use: a transaction touches two or three of them, and
    making all nineteen cost a token request more than its lookups' Python.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._after_commit: list[Callable[[], None]] | None = None

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Call `hook` once this transaction has committed, never when it rolls back: for
        what must not count a change that did not happen (metrics)."""
        if self._after_commit is None:
            self._after_commit = []
        self._after_commit.append(hook)

    def take_after_commit(self) -> list[Callable[[], None]]:
        """The hooks registered so far, handed to the store that runs them."""
        hooks, self._after_commit = self._after_commit or [], None
        return hooks

    instances = _repository(InstanceRepository)
    orgs = _repository(OrgRepository)
    users = _repository(UserRepository)
    memberships = _repository(MembershipRepository)
    policies = _repository(PolicyRepository)
    signing_keys = _repository(SigningKeyRepository)
    events = _repository(EventRepository)
    machines = _repository(MachineRepository)
    smtp = _repository(SmtpRepository)
    idps = _repository(IdpRepository)
    idp_links = _repository(IdpLinkRepository)
    sms = _repository(SmsRepository)
    projects = _repository(ProjectRepository)
    apps = _repository(AppRepository)
    project_grants = _repository(ProjectGrantRepository)
    user_grants = _repository(UserGrantRepository)
    app_keys = _repository(AppKeyRepository)
    auth_requests = _repository(AuthRequestRepository)
    oidc_clients = _repository(OidcClientRepository)
    access_tokens = _repository(AccessTokenRepository)
    refresh_tokens = _repository(RefreshTokenRepository)
    used_assertions = _repository(UsedAssertionRepository)
    user_codes = _repository(UserCodeRepository)
    sessions = _repository(SessionRepository)
    purge = _repository(PurgeRepository)
    throttles = _repository(ThrottleRepository)
    login_flows = _repository(LoginFlowRepository)
    outbox = _repository(OutboxRepository)
    branding = _repository(BrandingRepository)
    custom_texts = _repository(CustomTextRepository)
    factors = _repository(FactorRepository)
    ssh_keys = _repository(SshKeyRepository)
