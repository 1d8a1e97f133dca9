"""The level a login setting lives at: the instance default, or one organisation's own.

Policies, branding and custom texts share it: who may read and write each level (the
instance's need `iam.policy.*`, an organisation's `policy.*` in that organisation, as ZITADEL
counts them all as login settings), and what their events are about.
"""

from __future__ import annotations

from typing import Any

from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.org_domains import load_org
from zitui.core.permissions import Resource
from zitui.errors import PreconditionFailed
from zitui.store import Repositories, Store


async def require_level(
    authz: Authorizer, store: Store, ctx: Context, access: str, org_id: str | None
) -> None:
    """`access` ("read" or "write") on the instance's settings, or on the organisation's
    (which must exist)."""
    if not org_id:
        await authz.require(ctx, f"iam.policy.{access}", Resource.instance())
        return
    await authz.require(ctx, f"policy.{access}", Resource(org_id=org_id))
    async with store.reader() as tx:
        await load_org(tx, org_id)


async def record_level_event(
    tx: Repositories,
    ctx: Context,
    subject: str,
    org_id: str | None,
    action: str,
    payload: dict[str, Any],
) -> None:
    """`instance.<subject>.<action>` on the instance, or `org.<subject>.<action>` on the
    organisation, in the caller's transaction."""
    if org_id:
        aggregate = ("org", org_id)
    else:
        instance = await tx.instances.find()
        if instance is None:
            raise PreconditionFailed("instance.missing", "the instance is not set up")
        aggregate = ("instance", instance.id)
    event_type = f"{aggregate[0]}.{subject}.{action}"
    await record(tx, ctx, event_type, aggregate=aggregate, org_id=org_id or None, payload=payload)
