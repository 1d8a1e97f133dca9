"""OIDC applications (clients) of projects: create, configure, rotate secrets, read and list.

Client ids follow ZITADEL's shape, `<18 random digits>@<project name as a DNS label>`
(e.g. `482913375640238811@portal`): opaque to clients, readable in logs, unique by a
database constraint, and never changed afterwards (a project rename keeps it). Client
secrets are 64 letters and digits (~380 bits), shown once and stored as a SHA-256 digest:
they are high-entropy, so the token endpoint checks them without argon2.

An app stored before the response and grant types on offer were narrowed to the served ones
may still hold one of ZITADEL's others (`implicit`, `device_code`, `token_exchange`,
`id_token`): every read here shows only the offered values, and the next change of the app's
settings stores them so. The endpoints refuse those flows whatever an app holds, so the
leftovers are harmless until then; rewriting them at start-up would mean an event per app in
every process that opens the store.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.ids import new_id
from zitui.core.oidc_config import (
    DEFAULT_GRANT_TYPES,
    DEFAULT_RESPONSE_TYPES,
    GRANT_TYPES,
    RESPONSE_TYPES,
    SECRET_METHODS,
    OidcConfig,
    checked,
    offered,
)
from zitui.core.permissions import Resource
from zitui.core.projects import load_project, project_resource
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import App, AppType, AuthMethod, Page, Project, State, TokenType
from zitui.store import Repositories, Store

SECRET_LENGTH = 64
_SECRET_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class NewOidcApp:
    name: str
    app_type: AppType
    auth_method: AuthMethod
    redirect_uris: Sequence[str]
    post_logout_redirect_uris: Sequence[str] = ()
    response_types: Sequence[str] = DEFAULT_RESPONSE_TYPES
    grant_types: Sequence[str] = DEFAULT_GRANT_TYPES
    access_token_type: TokenType = TokenType.BEARER
    access_token_role_assertion: bool = False
    id_token_role_assertion: bool = False
    id_token_userinfo_assertion: bool = False
    clock_skew_s: int = 0
    dev_mode: bool = False
    additional_origins: Sequence[str] = ()

    def config(self) -> OidcConfig:
        return OidcConfig(**{f.name: getattr(self, f.name) for f in fields(OidcConfig)})


@dataclass(frozen=True)
class OidcConfigChange:
    """What to change in an app's OIDC settings; None leaves a setting as it is.

    `app_type` may move between web, user_agent and native, never to or from api.
    """

    app_type: AppType | None = None
    auth_method: AuthMethod | None = None
    redirect_uris: Sequence[str] | None = None
    post_logout_redirect_uris: Sequence[str] | None = None
    response_types: Sequence[str] | None = None
    grant_types: Sequence[str] | None = None
    access_token_type: TokenType | None = None
    access_token_role_assertion: bool | None = None
    id_token_role_assertion: bool | None = None
    id_token_userinfo_assertion: bool | None = None
    clock_skew_s: int | None = None
    dev_mode: bool | None = None
    additional_origins: Sequence[str] | None = None

    def applied_to(self, config: OidcConfig) -> OidcConfig:
        changes = {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}
        return replace(config, **changes)


def app_config(app: App) -> OidcConfig:
    return OidcConfig(**{f.name: getattr(app, f.name) for f in fields(OidcConfig)})


def new_client_id(project_name: str) -> str:
    return f"{secrets.randbelow(10**18):018d}@{validation.org_domain_label(project_name)}"


def new_client_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


class AppService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def create_oidc_app(
        self, ctx: Context, project_id: str, new: NewOidcApp
    ) -> tuple[App, str | None]:
        """Create an app; returns it with its client secret, shown this once (basic/post)."""
        project = await self._project(ctx, "project.app.write", project_id)
        name = validation.text(new.name, field="name")
        config = checked(new.config())
        secret = new_client_secret() if config.auth_method in SECRET_METHODS else None
        now = ctx.now()
        app = App(
            id=new_id(),
            project_id=project.id,
            org_id=project.org_id,
            name=name,
            state=State.ACTIVE,
            client_id=new_client_id(project.name),
            has_secret=secret is not None,
            created_at=now,
            updated_at=now,
            **_columns(config),
        )
        async with self._store.transaction() as tx:
            await load_project(tx, project_id)
            if await tx.apps.find_by_name(project_id, name):
                raise _name_taken()
            await tx.apps.insert(app, secret_digest=tokens.digest(secret) if secret else None)
            payload = {"name": name, "client_id": app.client_id, **_config_payload(config)}
            await record_app_event(tx, ctx, "project.application.added", app, payload)
        return app, secret

    async def rename_app(self, ctx: Context, app_id: str, name: str) -> App:
        await self._app(ctx, "project.app.write", app_id)
        name = validation.text(name, field="name")
        async with self._store.transaction() as tx:
            app = await _load_stored(tx, app_id)
            if app.name == name:
                return as_offered(app)
            other = await tx.apps.find_by_name(app.project_id, name)
            if other and other.id != app_id:
                raise _name_taken()
            renamed = replace(app, name=name, updated_at=ctx.now())
            await tx.apps.update(renamed)
            await record_app_event(tx, ctx, "project.application.changed", app, {"name": name})
        return as_offered(renamed)

    async def update_oidc_config(
        self, ctx: Context, app_id: str, change: OidcConfigChange
    ) -> tuple[App, str | None]:
        """Change an app's OIDC settings; all rules of `create_oidc_app` apply to the result.

        Moving to basic or post from a method without a secret generates one, returned this
        once; moving away from them deletes the stored secret.
        """
        current = await self._app(ctx, "project.app.write", app_id)
        if change.app_type is not None and (
            (change.app_type == AppType.API) != (current.app_type is AppType.API)
        ):
            raise InvalidArgument(
                "app.app_type.api_fixed",
                "an API app cannot become an OIDC app, nor the other way round",
                field="app_type",
            )
        config = checked(change.applied_to(app_config(current)))
        uses_secret = config.auth_method in SECRET_METHODS
        async with self._store.transaction() as tx:
            app = await _load_stored(tx, app_id)
            secret = new_client_secret() if uses_secret and not app.has_secret else None
            before, after = _config_payload(app_config(app)), _config_payload(config)
            changes = {k: v for k, v in after.items() if before[k] != v}
            if not changes and secret is None:
                return app, None
            changed = replace(app, has_secret=uses_secret, updated_at=ctx.now(), **_columns(config))
            await tx.apps.update(changed)
            if secret is not None or not uses_secret:
                digest = tokens.digest(secret) if secret else None
                await tx.apps.set_secret_digest(app_id, digest, at=ctx.now())
            payload = {**changes, "secret_generated": secret is not None}
            await record_app_event(tx, ctx, "project.application.config.oidc.changed", app, payload)
        return changed, secret

    async def regenerate_client_secret(self, ctx: Context, app_id: str) -> str:
        """A new client secret, shown this once; the old one stops working at once."""
        await self._app(ctx, "project.app.write", app_id)
        secret = new_client_secret()
        async with self._store.transaction() as tx:
            app = await load_app(tx, app_id)
            if app.auth_method not in SECRET_METHODS:
                raise PreconditionFailed(
                    "app.secret.not_used",
                    f"apps authenticating with {app.auth_method.value} have no client secret",
                    field="auth_method",
                )
            await tx.apps.set_secret_digest(app_id, tokens.digest(secret), at=ctx.now())
            await record_app_event(tx, ctx, "project.application.oidc.secret.changed", app, {})
        return secret

    async def deactivate_app(self, ctx: Context, app_id: str) -> App:
        """An inactive app cannot sign anyone in or get tokens."""
        return await self._set_state(ctx, app_id, State.INACTIVE, "project.application.deactivated")

    async def reactivate_app(self, ctx: Context, app_id: str) -> App:
        return await self._set_state(ctx, app_id, State.ACTIVE, "project.application.reactivated")

    async def remove_app(self, ctx: Context, app_id: str) -> None:
        await self._app(ctx, "project.app.delete", app_id)
        async with self._store.transaction() as tx:
            app = await load_app(tx, app_id)
            await tx.apps.delete(app_id)
            payload = {"name": app.name, "client_id": app.client_id}
            await record_app_event(tx, ctx, "project.application.removed", app, payload)

    async def get_app(self, ctx: Context, app_id: str) -> App:
        return await self._app(ctx, "project.app.read", app_id)

    async def find_app_by_name(self, ctx: Context, project_id: str, name: str) -> App | None:
        await self._project(ctx, "project.app.read", project_id)
        async with self._store.reader() as tx:
            found = await tx.apps.find_by_name(project_id, name.strip())
        return None if found is None else as_offered(found)

    async def list_apps(
        self, ctx: Context, project_id: str, *, offset: int = 0, limit: int = 50
    ) -> Page[App]:
        """The project's applications by name."""
        offset, limit = validation.page(offset, limit)
        await self._project(ctx, "project.app.read", project_id)
        async with self._store.scan() as tx:
            items, total = await tx.apps.list_for_project(project_id, offset=offset, limit=limit)
        return Page(
            items=tuple(as_offered(app) for app in items), total=total, offset=offset, limit=limit
        )

    async def _project(self, ctx: Context, permission: str, project_id: str) -> Project:
        async with self._store.reader() as tx:
            project = await load_project(tx, project_id)
        await self._authz.require(ctx, permission, project_resource(project))
        return project

    async def _app(self, ctx: Context, permission: str, app_id: str) -> App:
        """Load an app and require `permission` on its project (outside any transaction)."""
        async with self._store.reader() as tx:
            app = await load_app(tx, app_id)
        await self._authz.require(ctx, permission, _resource(app))
        return app

    async def _set_state(self, ctx: Context, app_id: str, state: State, event_type: str) -> App:
        await self._app(ctx, "project.app.write", app_id)
        async with self._store.transaction() as tx:
            app = await _load_stored(tx, app_id)
            if app.state is state:
                raise PreconditionFailed(
                    f"app.already_{state.value}", f"the application is already {state.value}"
                )
            changed = replace(app, state=state, updated_at=ctx.now())
            await tx.apps.update(changed)
            await record_app_event(tx, ctx, event_type, app, {})
        return as_offered(changed)


def _resource(app: App) -> Resource:
    return Resource(org_id=app.org_id, project_id=app.project_id)


def _columns(config: OidcConfig) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in fields(OidcConfig)}


def _config_payload(config: OidcConfig) -> dict[str, object]:
    """The settings as plain JSON values for the audit log (no secrets live here)."""
    payload: dict[str, object] = {}
    for name, value in _columns(config).items():
        if isinstance(value, tuple | list):
            value = list(value)
        elif isinstance(value, Enum):
            value = value.value
        payload[name] = value
    return payload


def _name_taken() -> AlreadyExists:
    return AlreadyExists(
        "app.name.taken", "the project has an application with this name", field="name"
    )


async def load_app(tx: Repositories, app_id: str) -> App:
    """The app as the services show it: only the response and grant types on offer."""
    return as_offered(await _load_stored(tx, app_id))


async def _load_stored(tx: Repositories, app_id: str) -> App:
    app = await tx.apps.find(app_id)
    if app is None:
        raise NotFound("app.not_found", "no such application", field="app_id")
    return app


def as_offered(app: App) -> App:
    """`app` without response or grant types that are no longer offered."""
    return replace(
        app,
        response_types=offered(app.response_types, RESPONSE_TYPES),
        grant_types=offered(app.grant_types, GRANT_TYPES),
    )


async def record_app_event(
    tx: Repositories, ctx: Context, event_type: str, app: App, payload: Mapping[str, object]
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("app", app.id),
        org_id=app.org_id,
        payload={"project_id": app.project_id, **payload},
    )
