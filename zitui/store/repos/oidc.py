"""What the OpenID provider reads and writes besides tokens: authorization requests, their
codes, and lean lookups of clients, audiences and granted roles.

The protocol endpoints are hot paths: every query here is one indexed SQLAlchemy Core
statement that returns a plain record, never an ORM object.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.records import (
    AppType,
    AudienceProject,
    AuthMethod,
    AuthRequestStatus,
    GrantedRoles,
    OidcClient,
    State,
    StoredAuthRequest,
    TokenType,
)
from zitui.store.models import (
    AppRow,
    AuthCodeRow,
    AuthRequestRow,
    OrgDomainRow,
    ProjectGrantRow,
    ProjectRow,
    UserGrantRow,
)
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

AUTH_REQUESTS = table(AuthRequestRow)
CODES = table(AuthCodeRow)
APPS = table(AppRow)
PROJECTS = table(ProjectRow)
PROJECT_GRANTS = table(ProjectGrantRow)
USER_GRANTS = table(UserGrantRow)
DOMAINS = table(OrgDomainRow)

_TUPLES = ("scopes", "prompt", "ui_locales", "acr_values", "amr")


@dataclass(frozen=True)
class StoredCode:
    auth_request_id: str
    expires_at: datetime
    used_at: datetime | None


def _auth_request(row: Any) -> StoredAuthRequest:
    values = dict(row)
    for name in _TUPLES:
        values[name] = tuple(values[name])
    values["status"] = AuthRequestStatus(values["status"])
    return StoredAuthRequest(**values)


# The statements of every sign-in, built once with bound parameters.
_REQUEST_BY_ID = Prepared(sa.select(AUTH_REQUESTS).where(AUTH_REQUESTS.c.id == sa.bindparam("id")))
_LINK = Prepared(
    AUTH_REQUESTS.update()
    .where(
        AUTH_REQUESTS.c.id == sa.bindparam("b_id"),
        AUTH_REQUESTS.c.status != AuthRequestStatus.CODE_ISSUED.value,
    )
    .values(
        session_id=sa.bindparam("b_session_id"),
        user_id=sa.bindparam("b_user_id"),
        auth_time=sa.bindparam("b_auth_time", type_=AUTH_REQUESTS.c.auth_time.type),
        amr=sa.bindparam("b_amr", type_=AUTH_REQUESTS.c.amr.type),
        status=AuthRequestStatus.LINKED.value,
    )
)
_MARK_CODE_ISSUED = Prepared(
    AUTH_REQUESTS.update()
    .where(
        AUTH_REQUESTS.c.id == sa.bindparam("b_id"),
        AUTH_REQUESTS.c.status == AuthRequestStatus.LINKED.value,
    )
    .values(status=AuthRequestStatus.CODE_ISSUED.value)
)
_CODE_BY_DIGEST = Prepared(
    sa.select(CODES.c.auth_request_id, CODES.c.expires_at, CODES.c.used_at).where(
        CODES.c.code_digest == sa.bindparam("digest")
    )
)
_USE_CODE = Prepared(
    CODES.update()
    .where(CODES.c.code_digest == sa.bindparam("digest"), CODES.c.used_at.is_(None))
    .values(used_at=sa.bindparam("at", type_=CODES.c.used_at.type))
)
_PENDING_FROM = Prepared(
    sa.select(sa.func.count(), sa.func.min(AUTH_REQUESTS.c.expires_at)).where(
        AUTH_REQUESTS.c.client_ip == sa.bindparam("ip"),
        AUTH_REQUESTS.c.status == AuthRequestStatus.PENDING.value,
        AUTH_REQUESTS.c.expires_at > sa.bindparam("now", type_=AUTH_REQUESTS.c.expires_at.type),
    )
)


class AuthRequestRepository(Repository):
    async def insert(self, request: StoredAuthRequest) -> None:
        values = {c.name: getattr(request, c.name) for c in AUTH_REQUESTS.c}
        for name in _TUPLES:
            values[name] = list(values[name])
        values["status"] = request.status.value
        await self.conn.execute(AUTH_REQUESTS.insert(), values)

    async def find(self, request_id: str) -> StoredAuthRequest | None:
        row = (await self.conn.execute(_REQUEST_BY_ID, {"id": request_id})).mappings().first()
        return None if row is None else _auth_request(row)

    async def link(
        self,
        request_id: str,
        *,
        session_id: str,
        user_id: str,
        auth_time: datetime,
        amr: Collection[str],
    ) -> bool:
        """Link a session to a request that has no code yet; False if it has one."""
        values = {
            "b_id": request_id,
            "b_session_id": session_id,
            "b_user_id": user_id,
            "b_auth_time": auth_time,
            "b_amr": list(amr),
        }
        result = await self.conn.execute(_LINK, values)
        return bool(result.rowcount)

    async def end(self, request_id: str, *, at: datetime) -> None:
        """The request is over without a code: it expires now (and is purged later)."""
        await self.conn.execute(
            AUTH_REQUESTS.update()
            .where(AUTH_REQUESTS.c.id == request_id, AUTH_REQUESTS.c.expires_at > at)
            .values(expires_at=at)
        )

    async def mark_code_issued(self, request_id: str) -> bool:
        """Move a linked request on; False when another call was first (one code per request)."""
        result = await self.conn.execute(_MARK_CODE_ISSUED, {"b_id": request_id})
        return bool(result.rowcount)

    async def insert_code(
        self, digest: str, request_id: str, *, created_at: datetime, expires_at: datetime
    ) -> None:
        await self.conn.execute(
            CODES.insert(),
            {
                "code_digest": digest,
                "auth_request_id": request_id,
                "created_at": created_at,
                "expires_at": expires_at,
            },
        )

    async def find_code(self, digest: str) -> StoredCode | None:
        row = (await self.conn.execute(_CODE_BY_DIGEST, {"digest": digest})).first()
        return None if row is None else StoredCode(*row)

    async def use_code(self, digest: str, *, at: datetime) -> bool:
        """Mark a code used; False when it was used already (a concurrent redemption)."""
        result = await self.conn.execute(_USE_CODE, {"digest": digest, "at": at})
        return bool(result.rowcount)

    async def expire_codes_for_user(
        self, user_id: str, *, at: datetime, keep_session_id: str | None = None
    ) -> int:
        """Expire the user's codes not redeemed yet, but those of requests linked to
        `keep_session_id`; how many. A later redemption fails as expired."""
        requests = sa.select(AUTH_REQUESTS.c.id).where(AUTH_REQUESTS.c.user_id == user_id)
        if keep_session_id is not None:
            requests = requests.where(AUTH_REQUESTS.c.session_id.is_distinct_from(keep_session_id))
        result = await self.conn.execute(
            CODES.update()
            .where(
                CODES.c.auth_request_id.in_(requests),
                CODES.c.used_at.is_(None),
                CODES.c.expires_at > at,
            )
            .values(expires_at=at)
        )
        return int(result.rowcount or 0)

    async def pending_from(self, client_ip: str, *, now: datetime) -> tuple[int, datetime | None]:
        """How many unexpired requests from `client_ip` wait for a sign-in, and when the
        first of them expires (one query on the client_ip index)."""
        row = (await self.conn.execute(_PENDING_FROM, {"ip": client_ip, "now": now})).first()
        return (int(row[0]), row[1]) if row else (0, None)


_CLIENT = sa.select(
    APPS.c.id,
    APPS.c.client_id,
    APPS.c.name,
    APPS.c.project_id,
    APPS.c.org_id,
    sa.and_(APPS.c.state == State.ACTIVE.value, PROJECTS.c.state == State.ACTIVE.value).label(
        "active"
    ),
    APPS.c.app_type,
    APPS.c.auth_method,
    APPS.c.redirect_uris,
    APPS.c.post_logout_redirect_uris,
    APPS.c.grant_types,
    APPS.c.access_token_type,
    APPS.c.access_token_role_assertion,
    APPS.c.id_token_role_assertion,
    APPS.c.id_token_userinfo_assertion,
    APPS.c.clock_skew_s,
    PROJECTS.c.role_assertion,
    PROJECTS.c.role_check,
    PROJECTS.c.has_project_check,
    APPS.c.client_secret_digest,
).join(PROJECTS, PROJECTS.c.id == APPS.c.project_id)


_CLIENT_BY_CLIENT_ID = Prepared(_CLIENT.where(APPS.c.client_id == sa.bindparam("client_id")))
_CLIENT_BY_APP_ID = Prepared(_CLIENT.where(APPS.c.id == sa.bindparam("app_id")))
_GRANTED_TO_ORG = sa.and_(
    PROJECT_GRANTS.c.project_id == PROJECTS.c.id,
    PROJECT_GRANTS.c.granted_org_id == sa.bindparam("org_id"),
    PROJECT_GRANTS.c.state == State.ACTIVE.value,
)
_AUDIENCE_PROJECTS = (
    sa.select(
        PROJECTS.c.id,
        PROJECTS.c.org_id,
        sa.exists().where(_GRANTED_TO_ORG).label("granted"),
        PROJECTS.c.has_project_check,
        PROJECTS.c.role_check,
        APPS.c.client_id,
    )
    .select_from(PROJECTS)
    .join(
        APPS,
        sa.and_(APPS.c.project_id == PROJECTS.c.id, APPS.c.state == State.ACTIVE.value),
        isouter=True,
    )
    .where(PROJECTS.c.id.in_(sa.bindparam("project_ids", expanding=True)))
    .order_by(PROJECTS.c.id, APPS.c.client_id)
)
_ORG_HAS_PROJECT = Prepared(
    sa.select(
        sa.or_(
            sa.exists().where(
                PROJECTS.c.id == sa.bindparam("project_id"),
                PROJECTS.c.org_id == sa.bindparam("org_id"),
            ),
            sa.exists().where(
                PROJECT_GRANTS.c.project_id == sa.bindparam("project_id"),
                PROJECT_GRANTS.c.granted_org_id == sa.bindparam("org_id"),
                PROJECT_GRANTS.c.state == State.ACTIVE.value,
            ),
        )
    )
)
_GRANTED_ROLES = (
    sa.select(
        USER_GRANTS.c.project_id,
        USER_GRANTS.c.org_id,
        DOMAINS.c.domain,
        USER_GRANTS.c.role_keys,
    )
    .join(
        DOMAINS,
        sa.and_(DOMAINS.c.org_id == USER_GRANTS.c.org_id, DOMAINS.c.is_primary.is_(True)),
        isouter=True,
    )
    .where(
        USER_GRANTS.c.user_id == sa.bindparam("user_id"),
        USER_GRANTS.c.project_id.in_(sa.bindparam("project_ids", expanding=True)),
        USER_GRANTS.c.state == State.ACTIVE.value,
    )
)


def _client(row: Any) -> OidcClient:
    return OidcClient(
        app_id=row[0],
        client_id=row[1],
        app_name=row[2],
        project_id=row[3],
        org_id=row[4],
        active=bool(row[5]),
        app_type=AppType(row[6]),
        auth_method=AuthMethod(row[7]),
        redirect_uris=tuple(row[8]),
        post_logout_redirect_uris=tuple(row[9]),
        grant_types=tuple(row[10]),
        access_token_type=TokenType(row[11]),
        access_token_role_assertion=row[12],
        id_token_role_assertion=row[13],
        id_token_userinfo_assertion=row[14],
        clock_skew_s=row[15],
        project_role_assertion=row[16],
        project_role_check=row[17],
        project_has_project_check=row[18],
        secret_digest=row[19],
    )


class OidcClientRepository(Repository):
    """Clients, audiences, roles and organisations as tokens and claims need them."""

    async def find_by_client_id(self, client_id: str) -> OidcClient | None:
        row = (await self.conn.execute(_CLIENT_BY_CLIENT_ID, {"client_id": client_id})).first()
        return None if row is None else _client(row)

    async def find_by_app_id(self, app_id: str) -> OidcClient | None:
        row = (await self.conn.execute(_CLIENT_BY_APP_ID, {"app_id": app_id})).first()
        return None if row is None else _client(row)

    async def audience_projects(
        self, project_ids: Collection[str], *, org_id: str
    ) -> dict[str, AudienceProject]:
        """The projects that exist, by id, each with its owner, whether it is granted to
        `org_id`, its checks, and its active apps' client ids (one indexed query)."""
        if not project_ids:
            return {}
        params = {"project_ids": sorted(project_ids), "org_id": org_id}
        rows: dict[str, list[Any]] = {}
        for row in await self.conn.execute(_AUDIENCE_PROJECTS, params):
            rows.setdefault(row[0], []).append(row)
        return {
            project_id: AudienceProject(
                project_id=project_id,
                org_id=found[0][1],
                granted=bool(found[0][2]),
                has_project_check=bool(found[0][3]),
                role_check=bool(found[0][4]),
                client_ids=tuple(row[5] for row in found if row[5] is not None),
            )
            for project_id, found in rows.items()
        }

    async def granted_roles(self, user_id: str, project_ids: Collection[str]) -> list[GrantedRoles]:
        """The user's active grants on these projects, with the granting organisation's domain."""
        if not project_ids:
            return []
        params = {"user_id": user_id, "project_ids": sorted(project_ids)}
        return [
            GrantedRoles(
                project_id=row[0],
                org_id=row[1],
                org_primary_domain=row[2] or "",
                role_keys=tuple(row[3]),
            )
            for row in (await self.conn.execute(_GRANTED_ROLES, params)).all()
        ]

    async def org_has_project(self, org_id: str, project_id: str) -> bool:
        """Whether the organisation owns the project or holds an active grant of it."""
        params = {"org_id": org_id, "project_id": project_id}
        return bool(await self.conn.scalar(_ORG_HAS_PROJECT, params))

    async def org_of_primary_domain(self, domain: str) -> str | None:
        query = sa.select(DOMAINS.c.org_id).where(
            DOMAINS.c.domain == domain.lower(), DOMAINS.c.is_primary.is_(True)
        )
        org_id: str | None = await self.conn.scalar(query)
        return org_id
