"""Permission checks that leave a trace: a refused manager action is an audit event."""

from __future__ import annotations

import logging

from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.errors import PermissionDenied, StoreUnavailable
from zitui.store import Store

log = logging.getLogger("zitui.audit")
DENIED = "permission.denied"


class Authorizer:
    """`require` for commands and queries; `ctx.can` stays for filtering what is listed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def require(self, ctx: Context, permission: str, resource: Resource) -> None:
        """Raise unless allowed; a signed-in actor's refusal is recorded as `permission.denied`.

        The record is written in its own transaction: the refused command changes nothing,
        but the attempt stays in the audit log.
        """
        try:
            ctx.require(permission, resource)
        except PermissionDenied:
            await self._record_denial(ctx, permission, resource)
            raise

    async def _record_denial(self, ctx: Context, permission: str, resource: Resource) -> None:
        assert ctx.actor is not None  # anonymous callers get Unauthenticated, not a denial
        payload = {"permission": permission, "origin": ctx.request.origin}
        payload.update({k: v for k, v in vars(resource).items() if v})
        try:
            async with self._store.transaction() as tx:
                await record(
                    tx,
                    ctx,
                    DENIED,
                    aggregate=("user", ctx.actor.user_id),
                    org_id=resource.org_id or ctx.actor.org_id,
                    payload=payload,
                )
        except StoreUnavailable:
            log.warning("could not record a denial of %s to %s", permission, ctx.actor_id)
