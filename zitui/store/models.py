"""SQLModel tables: the current state of the instance, plus the append-only event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from zitui.store.types import UTCDateTime


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class InstanceRow(SQLModel, table=True):
    __tablename__ = "instances"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    domain: str = Field(max_length=253)
    default_org_id: str = Field(max_length=40)
    key_check: str = Field(max_length=200)
    created_at: datetime = _ts()
    setup_completed_at: datetime | None = _ts(default=None, nullable=True)


class OrgRow(SQLModel, table=True):
    __tablename__ = "orgs"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200, unique=True)
    state: str = Field(max_length=20)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OrgDomainRow(SQLModel, table=True):
    __tablename__ = "org_domains"

    domain: str = Field(primary_key=True, max_length=253)
    org_id: str = Field(foreign_key="orgs.id", ondelete="CASCADE", index=True, max_length=40)
    is_primary: bool = False
    is_verified: bool = False
    validation_type: str = Field(default="", max_length=10)
    validation_token: str = Field(default="", max_length=100)
    created_at: datetime = _ts()


class UserRow(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "username", name="uq_users_org_username"),
        # Sign-in looks users up by name and email without knowing the organisation.
        sa.Index("ix_users_username", "username"),
        sa.Index("ix_users_username_lower", sa.func.lower(sa.text("username"))),
        sa.Index("ix_users_email_lower", sa.func.lower(sa.text("email"))),
    )

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="orgs.id", ondelete="CASCADE", index=True, max_length=40)
    kind: str = Field(max_length=10)
    username: str = Field(max_length=200)
    state: str = Field(max_length=20)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    nickname: str = Field(default="", max_length=200)
    display_name: str = Field(default="", max_length=200)
    gender: str = Field(default="", max_length=20)
    preferred_language: str = Field(default="", max_length=20)
    email: str = Field(default="", max_length=320, index=True)
    email_verified: bool = False
    phone: str = Field(default="", max_length=40)
    phone_verified: bool = False
    password_hash: str | None = Field(default=None, max_length=200)
    password_change_required: bool = False
    password_changed_at: datetime | None = _ts(default=None, nullable=True)
    failed_password_attempts: int = 0
    # Wrong one-time codes in a row (email, reset, initialisation; later second factors).
    failed_code_attempts: int = 0
    terms_accepted_at: datetime | None = _ts(default=None, nullable=True)
    mfa_init_skipped_at: datetime | None = _ts(default=None, nullable=True)
    description: str = Field(default="", max_length=500)
    access_token_type: str = Field(default="bearer", max_length=10)
    secret_digest: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MachineKeyRow(SQLModel, table=True):
    """A machine user's JWT-profile key; only the public half is kept."""

    __tablename__ = "machine_keys"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    public_key_pem: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(default=None, nullable=True)


class PersonalAccessTokenRow(SQLModel, table=True):
    __tablename__ = "personal_access_tokens"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    token_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(default=None, nullable=True)


class ProjectRow(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_projects_org_name"),)

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(foreign_key="orgs.id", ondelete="CASCADE", index=True, max_length=40)
    name: str = Field(max_length=200)
    state: str = Field(max_length=20)
    role_assertion: bool = False
    role_check: bool = False
    has_project_check: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    private_labeling_setting: str = Field(default="unspecified", max_length=40)


class ProjectRoleRow(SQLModel, table=True):
    __tablename__ = "project_roles"

    project_id: str = Field(
        foreign_key="projects.id", ondelete="CASCADE", primary_key=True, max_length=40
    )
    key: str = Field(primary_key=True, max_length=200)
    display_name: str = Field(default="", max_length=200)
    group: str = Field(default="", max_length=200)
    created_at: datetime = _ts()


class AppRow(SQLModel, table=True):
    """An OIDC application (client) of a project."""

    __tablename__ = "apps"
    __table_args__ = (sa.UniqueConstraint("project_id", "name", name="uq_apps_project_name"),)

    id: str = Field(primary_key=True, max_length=40)
    project_id: str = Field(
        foreign_key="projects.id", ondelete="CASCADE", index=True, max_length=40
    )
    org_id: str = Field(max_length=40, index=True)
    name: str = Field(max_length=200)
    state: str = Field(max_length=20)
    app_type: str = Field(max_length=20)
    client_id: str = Field(max_length=100, unique=True)
    client_secret_digest: str | None = Field(default=None, max_length=64)
    auth_method: str = Field(max_length=30)
    redirect_uris: list[str] = Field(sa_type=sa.JSON)
    post_logout_redirect_uris: list[str] = Field(sa_type=sa.JSON)
    response_types: list[str] = Field(sa_type=sa.JSON)
    grant_types: list[str] = Field(sa_type=sa.JSON)
    access_token_type: str = Field(max_length=10)
    access_token_role_assertion: bool = False
    id_token_role_assertion: bool = False
    id_token_userinfo_assertion: bool = False
    clock_skew_s: int = 0
    dev_mode: bool = False
    additional_origins: list[str] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ProjectGrantRow(SQLModel, table=True):
    """A project shared with another organisation, with a subset of its roles."""

    __tablename__ = "project_grants"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "granted_org_id", name="uq_project_grants_org"),
    )

    id: str = Field(primary_key=True, max_length=40)
    project_id: str = Field(
        foreign_key="projects.id", ondelete="CASCADE", index=True, max_length=40
    )
    granted_org_id: str = Field(
        foreign_key="orgs.id", ondelete="CASCADE", index=True, max_length=40
    )
    role_keys: list[str] = Field(sa_type=sa.JSON)
    state: str = Field(max_length=20)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class UserGrantRow(SQLModel, table=True):
    """An authorization: a user's roles in a project, directly or through a project grant."""

    __tablename__ = "user_grants"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "project_id", name="uq_user_grants_user_project"),
    )

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    project_id: str = Field(
        foreign_key="projects.id", ondelete="CASCADE", index=True, max_length=40
    )
    project_grant_id: str | None = Field(
        default=None,
        foreign_key="project_grants.id",
        ondelete="CASCADE",
        index=True,
        max_length=40,
        nullable=True,
    )
    org_id: str = Field(max_length=40, index=True)
    role_keys: list[str] = Field(sa_type=sa.JSON)
    state: str = Field(max_length=20)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SmtpConfigRow(SQLModel, table=True):
    """The instance's mail server; the password is encrypted under the master key."""

    __tablename__ = "smtp_configs"

    id: str = Field(primary_key=True, max_length=40)
    host: str = Field(max_length=253)
    port: int
    sender: str = Field(max_length=320)
    tls: str = Field(max_length=10)
    user: str = Field(default="", max_length=200)
    password_enc: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime = _ts()


class SmsProviderRow(SQLModel, table=True):
    """The instance's SMS provider, one row: a generic HTTP endpoint (`url`) or a
    Twilio-compatible API (`account_sid`, `sender` or `messaging_service_sid`, `base_url`).
    `token_enc` is the bearer token or the auth token, encrypted under the master key."""

    __tablename__ = "sms_providers"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=10)
    url: str = Field(default="", max_length=2000)
    token_enc: str = Field(default="", sa_type=sa.Text)
    account_sid: str = Field(default="", max_length=64)
    sender: str = Field(default="", max_length=40)
    messaging_service_sid: str = Field(default="", max_length=64)
    base_url: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MembershipRow(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "scope", "scope_id", name="uq_memberships_user_scope"),
    )

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    scope: str = Field(max_length=20)
    scope_id: str = Field(max_length=40, index=True)
    org_id: str = Field(max_length=40, index=True)
    roles: list[str] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()


class PolicyRow(SQLModel, table=True):
    """A policy's settings; `org_id` empty for the instance default, else the override."""

    __tablename__ = "policies"
    __table_args__ = (sa.UniqueConstraint("kind", "org_id", name="uq_policies_kind_org"),)

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=40)
    org_id: str = Field(default="", max_length=40)
    settings: dict[str, Any] = Field(sa_type=sa.JSON)
    updated_at: datetime = _ts()


class SigningKeyRow(SQLModel, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=10)
    public_jwk: dict[str, Any] = Field(sa_type=sa.JSON)
    private_key_enc: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
    activates_at: datetime | None = _ts(default=None, nullable=True)
    expires_at: datetime = _ts()


class EventRow(SQLModel, table=True):
    """The audit log: one row per state change, written in the change's transaction."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_org_created", "org_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    created_at: datetime = _ts(index=True)
    event_type: str = Field(max_length=100, index=True)
    aggregate_type: str = Field(max_length=40)
    aggregate_id: str = Field(max_length=40, index=True)
    org_id: str | None = Field(default=None, max_length=40)
    actor_id: str = Field(max_length=40, index=True)
    request_ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)


class AppKeyRow(SQLModel, table=True):
    """A public key an app signs its client assertions with (private_key_jwt)."""

    __tablename__ = "app_keys"

    id: str = Field(primary_key=True, max_length=40)
    app_id: str = Field(foreign_key="apps.id", ondelete="CASCADE", index=True, max_length=40)
    public_key_pem: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(default=None, nullable=True)


class SessionRow(SQLModel, table=True):
    """One user signed in on one browser, with when each factor was last checked."""

    __tablename__ = "sessions"
    __table_args__ = (
        sa.UniqueConstraint("browser_digest", "user_id", name="uq_sessions_browser_user"),
    )

    id: str = Field(primary_key=True, max_length=40)
    browser_digest: str = Field(max_length=64, index=True)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    password_checked_at: datetime | None = _ts(default=None, nullable=True)
    second_factor_checked_at: datetime | None = _ts(default=None, nullable=True)
    multi_factor_checked_at: datetime | None = _ts(default=None, nullable=True)
    # The kind of the second factor checked last (`FactorKind`, or "recovery"), for `amr`.
    second_factor_kind: str | None = Field(default=None, max_length=20, nullable=True)
    user_agent: str = Field(default="", max_length=400)
    # The address of the last sign-in on this session (for the user's list of sessions).
    client_ip: str = Field(default="", max_length=64)
    # The last sign-in at an external identity provider, and which one.
    external_checked_at: datetime | None = _ts(default=None, nullable=True)
    idp_id: str = Field(default="", max_length=40)
    created_at: datetime = _ts()
    last_used_at: datetime = _ts()
    terminated_at: datetime | None = _ts(default=None, nullable=True)


class AuthRequestRow(SQLModel, table=True):
    """An OIDC authorization request waiting for, or finished with, a sign-in."""

    __tablename__ = "auth_requests"
    __table_args__ = (
        # The cap per address counts pending, unexpired requests: an index range, however
        # many finished requests the address has made.
        sa.Index("ix_auth_requests_client_ip", "client_ip", "status", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    app_id: str = Field(foreign_key="apps.id", ondelete="CASCADE", index=True, max_length=40)
    client_id: str = Field(max_length=100)
    redirect_uri: str = Field(sa_type=sa.Text)
    response_type: str = Field(max_length=40)
    response_mode: str = Field(default="query", max_length=20)
    scopes: list[str] = Field(sa_type=sa.JSON)
    state: str = Field(default="", sa_type=sa.Text)
    nonce: str = Field(default="", sa_type=sa.Text)
    code_challenge: str = Field(default="", max_length=200)
    code_challenge_method: str = Field(default="", max_length=10)
    prompt: list[str] = Field(sa_type=sa.JSON)
    max_age: int | None = Field(default=None, nullable=True)
    login_hint: str = Field(default="", max_length=400)
    ui_locales: list[str] = Field(sa_type=sa.JSON)
    acr_values: list[str] = Field(sa_type=sa.JSON)
    id_token_hint_subject: str = Field(default="", max_length=40)
    org_id: str = Field(default="", max_length=40)
    session_id: str | None = Field(
        default=None,
        foreign_key="sessions.id",
        ondelete="SET NULL",
        max_length=40,
        nullable=True,
    )
    user_id: str | None = Field(default=None, max_length=40, nullable=True)
    # The address that sent the request: pending requests are capped per address.
    client_ip: str = Field(default="", max_length=64)
    auth_time: datetime | None = _ts(default=None, nullable=True)
    amr: list[str] = Field(sa_type=sa.JSON)
    status: str = Field(max_length=20)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


class AuthCodeRow(SQLModel, table=True):
    __tablename__ = "auth_codes"

    code_digest: str = Field(primary_key=True, max_length=64)
    auth_request_id: str = Field(
        foreign_key="auth_requests.id", ondelete="CASCADE", index=True, max_length=40
    )
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(default=None, nullable=True)


class RefreshTokenRow(SQLModel, table=True):
    """A refresh token; rotation links each to its family so a replay revokes them all."""

    __tablename__ = "refresh_tokens"

    id: str = Field(primary_key=True, max_length=40)
    token_digest: str = Field(max_length=64, unique=True)
    family_id: str = Field(max_length=40, index=True)
    app_id: str = Field(foreign_key="apps.id", ondelete="CASCADE", index=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    session_id: str | None = Field(default=None, max_length=40, nullable=True)
    scopes: list[str] = Field(sa_type=sa.JSON)
    audience: list[str] = Field(sa_type=sa.JSON)
    auth_time: datetime | None = _ts(default=None, nullable=True)
    amr: list[str] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()
    idle_expires_at: datetime = _ts()
    absolute_expires_at: datetime = _ts()
    rotated_at: datetime | None = _ts(default=None, nullable=True)
    revoked_at: datetime | None = _ts(default=None, nullable=True)


class AccessTokenRow(SQLModel, table=True):
    """Every access token issued: opaque ones are found by digest, JWTs by their `jti`."""

    __tablename__ = "access_tokens"

    id: str = Field(primary_key=True, max_length=40)
    token_digest: str | None = Field(default=None, max_length=64, unique=True, nullable=True)
    app_id: str | None = Field(default=None, max_length=40, nullable=True, index=True)
    client_id: str = Field(max_length=100)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    session_id: str | None = Field(default=None, max_length=40, nullable=True, index=True)
    refresh_token_id: str | None = Field(default=None, max_length=40, nullable=True, index=True)
    auth_request_id: str | None = Field(default=None, max_length=40, nullable=True, index=True)
    scopes: list[str] = Field(sa_type=sa.JSON)
    audience: list[str] = Field(sa_type=sa.JSON)
    auth_time: datetime | None = _ts(default=None, nullable=True)
    amr: list[str] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)
    revoked_at: datetime | None = _ts(default=None, nullable=True)


class LoginFlowRow(SQLModel, table=True):
    """One pass through the hosted login (or the console's sign-in): the core login flow.

    `checks` maps a factor ("password", …) to when this flow proved it; `internal` holds what
    later steps need and nobody may see (challenges, pending secrets, upstream state).
    """

    __tablename__ = "login_flows"
    __table_args__ = (
        # The cap per address counts unfinished, unexpired flows (an index range).
        sa.Index("ix_login_flows_client_ip", "client_ip", "step", "expires_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(default="login", max_length=20)
    browser_digest: str = Field(max_length=64, index=True)
    auth_request_id: str | None = Field(
        default=None,
        foreign_key="auth_requests.id",
        ondelete="CASCADE",
        max_length=40,
        nullable=True,
        index=True,
    )
    org_id: str = Field(default="", max_length=40)
    user_id: str | None = Field(
        default=None, foreign_key="users.id", ondelete="CASCADE", max_length=40, nullable=True
    )
    session_id: str | None = Field(
        default=None, foreign_key="sessions.id", ondelete="SET NULL", max_length=40, nullable=True
    )
    login_name: str = Field(default="", max_length=400)
    # The address that started the flow: open flows are capped per address.
    client_ip: str = Field(default="", max_length=64)
    step: str = Field(max_length=40)
    checks: dict[str, Any] = Field(sa_type=sa.JSON)
    attempts: dict[str, Any] = Field(sa_type=sa.JSON)
    internal: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


class ThrottleRow(SQLModel, table=True):
    """Attempts counted per key (a login name's digest, a client address) across processes."""

    __tablename__ = "throttles"

    key: str = Field(primary_key=True, max_length=120)
    attempts: int = Field(default=0)
    window_started_at: datetime = _ts()
    blocked_until: datetime | None = _ts(default=None, nullable=True)
    expires_at: datetime = _ts(index=True)


class UsedAssertionRow(SQLModel, table=True):
    """A client or grant assertion's `jti` (RFC 7523 §3), kept until the assertion expires."""

    __tablename__ = "used_assertions"

    jti_digest: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = _ts(index=True)


class OutboxRow(SQLModel, table=True):
    """A notification waiting for, or past, delivery (zitui/core/notifications/).

    The bodies may carry codes and links: they are stored encrypted under the master key.
    `last_error` names what went wrong with the transport, never a body.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The sender reads due messages: by state, then by when they are due.
        sa.Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=40)
    channel: str = Field(max_length=10)
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=400)
    text_enc: str = Field(sa_type=sa.Text)
    html_enc: str = Field(sa_type=sa.Text)
    language: str = Field(default="", max_length=20)
    state: str = Field(max_length=10)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts()
    last_error: str = Field(default="", max_length=400)
    created_at: datetime = _ts(index=True)
    sent_at: datetime | None = _ts(default=None, nullable=True)
    user_id: str | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", max_length=40, nullable=True
    )
    org_id: str | None = Field(default=None, max_length=40, nullable=True)


class UserCodeRow(SQLModel, table=True):
    """A one-time code sent to a user, one per purpose; a new code replaces the old one.

    `digest` is keyed by the master key (a short code's plain SHA-256 could be brute-forced
    from a copy of the database); `target` is the address the code was sent to, so a code
    stops working when the address changes.
    """

    __tablename__ = "user_codes"

    user_id: str = Field(
        primary_key=True, foreign_key="users.id", ondelete="CASCADE", max_length=40
    )
    purpose: str = Field(primary_key=True, max_length=20)
    digest: str = Field(max_length=64)
    target: str = Field(max_length=320)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)
    message_id: str | None = Field(default=None, max_length=40, nullable=True)


class BrandingRow(SQLModel, table=True):
    """An organisation's login branding; `org_id` empty for the instance default.

    Colours are `#rrggbb`, or empty for the stylesheet's own colour.
    """

    __tablename__ = "branding"

    org_id: str = Field(primary_key=True, max_length=40)
    primary_color: str = Field(default="", max_length=7)
    background_color: str = Field(default="", max_length=7)
    warning_color: str = Field(default="", max_length=7)
    font_color: str = Field(default="", max_length=7)
    primary_color_dark: str = Field(default="", max_length=7)
    background_color_dark: str = Field(default="", max_length=7)
    warning_color_dark: str = Field(default="", max_length=7)
    font_color_dark: str = Field(default="", max_length=7)
    font_family: str = Field(default="", max_length=200)
    hide_login_name_suffix: bool = Field(default=False)
    disable_watermark: bool = Field(default=False)
    updated_at: datetime = _ts()


class BrandingAssetRow(SQLModel, table=True):
    """A logo or icon of an organisation's branding (`org_id` empty for the instance's)."""

    __tablename__ = "branding_assets"

    org_id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(primary_key=True, max_length=20)
    content_type: str = Field(max_length=40)
    data: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    size: int
    updated_at: datetime = _ts()


class CustomTextRow(SQLModel, table=True):
    """A manager's wording for one catalogue key in one language; `org_id` empty for the
    instance's, else the organisation's own (over the instance's)."""

    __tablename__ = "custom_texts"

    org_id: str = Field(primary_key=True, max_length=40)
    language: str = Field(primary_key=True, max_length=10)
    key: str = Field(primary_key=True, max_length=120)
    text: str = Field(sa_type=sa.Text)
    updated_at: datetime = _ts()


class UserFactorRow(SQLModel, table=True):
    """A user's second factor: `pending` until its first code proves it, then `ready`.

    `secret_enc` is the TOTP secret under the master key, bound to the row's id; `last_step`
    the last TOTP time step accepted, so a code is never taken twice. A WebAuthn credential
    (security key or passkey) keeps its id (base64url), COSE public key (base64url), signature
    counter and transports.
    """

    __tablename__ = "user_factors"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    kind: str = Field(max_length=20)
    name: str = Field(max_length=200)
    state: str = Field(max_length=20)
    secret_enc: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    last_step: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=True)
    credential_id: str | None = Field(
        default=None, max_length=1400, nullable=True, unique=True, index=True
    )
    transports: list[str] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    public_key: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    sign_count: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=True)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(default=None, nullable=True)


class RecoveryCodeRow(SQLModel, table=True):
    """One of a user's single-use recovery codes, kept as an HMAC keyed from the master key."""

    __tablename__ = "recovery_codes"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    digest: str = Field(max_length=64)
    used_at: datetime | None = _ts(default=None, nullable=True)
    created_at: datetime = _ts()


class IdentityProviderRow(SQLModel, table=True):
    """An external identity provider of the instance (`org_id` "") or of one organisation.

    `client_secret_enc` is the client secret (for Apple the signing key) under the master
    key, bound to the row's id. `options` and `extra` are small JSON objects (IdpOptions,
    a template's own fields)."""

    __tablename__ = "identity_providers"

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(default="", max_length=40, index=True)
    name: str = Field(max_length=200)
    type: str = Field(max_length=20)
    client_id: str = Field(max_length=400)
    client_secret_enc: str = Field(default="", sa_type=sa.Text)
    issuer: str = Field(default="", max_length=2000)
    authorization_endpoint: str = Field(default="", max_length=2000)
    token_endpoint: str = Field(default="", max_length=2000)
    userinfo_endpoint: str = Field(default="", max_length=2000)
    jwks_uri: str = Field(default="", max_length=2000)
    id_attribute: str = Field(default="", max_length=200)
    scopes: list[str] = Field(sa_type=sa.JSON)
    use_pkce: bool = Field(default=True)
    id_token_mapping: bool = Field(default=False)
    options: dict[str, Any] = Field(sa_type=sa.JSON)
    extra: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class UserIdpLinkRow(SQLModel, table=True):
    """A user's link to an identity at an external provider: one local user per external
    identity (`idp_id`, `external_id`)."""

    __tablename__ = "user_idp_links"
    __table_args__ = (
        sa.UniqueConstraint("idp_id", "external_id", name="uq_user_idp_links_external"),
    )

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    idp_id: str = Field(
        foreign_key="identity_providers.id", ondelete="CASCADE", index=True, max_length=40
    )
    external_id: str = Field(max_length=400)
    external_name: str = Field(default="", max_length=400)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(default=None, nullable=True)


class UserSshKeyRow(SQLModel, table=True):
    """A user's SSH public key for the operator console: the key's algorithm and base64 blob
    as OpenSSH writes them, its SHA-256 fingerprint (unique: one key, one user) and the
    comment that came with it."""

    __tablename__ = "user_ssh_keys"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    algorithm: str = Field(max_length=60)
    public_key: str = Field(sa_type=sa.Text)
    fingerprint: str = Field(max_length=60, unique=True, index=True)
    comment: str = Field(max_length=200)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(default=None, nullable=True)
