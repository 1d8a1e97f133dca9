"""Managers read and change policies: the instance default and an organisation's override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.policies import POLICY_KINDS, from_settings, to_settings
from zitui.core.policy_rules import apply_changes, policy_kind
from zitui.core.settings_level import record_level_event, require_level
from zitui.errors import PreconditionFailed
from zitui.store import Repositories, Store


@dataclass(frozen=True)
class PolicyState:
    """A policy as it applies in one place: the values in force and where they come from.

    `org_id` is None for the instance default, which is never `inherited`.
    """

    kind: str
    org_id: str | None
    effective: Any
    default: Any
    inherited: bool

    def overridden_fields(self) -> list[str]:
        """The fields whose value in force differs from the instance default."""
        if self.inherited:
            return []
        return [
            f.name
            for f in fields(self.effective)
            if getattr(self.effective, f.name) != getattr(self.default, f.name)
        ]


class PolicyService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def get(self, ctx: Context, kind: str, org_id: str | None = None) -> PolicyState:
        """The policy in force for the instance (`org_id=None`) or an organisation."""
        kind = policy_kind(kind)
        await self._require(ctx, "read", org_id)
        async with self._store.reader() as tx:
            return await _state(tx, kind, org_id)

    async def set(
        self, ctx: Context, kind: str, changes: Mapping[str, Any], org_id: str | None = None
    ) -> PolicyState:
        """Apply `changes` over the values in force; an organisation's first change copies
        the instance default into its override. Unchanged values are refused."""
        kind = policy_kind(kind)
        await self._require(ctx, "write", org_id)
        async with self._store.transaction() as tx:
            state = await _state(tx, kind, org_id)
            updated = apply_changes(kind, state.effective, changes)
            changed = _differences(state.effective, updated)
            if not changed:
                raise PreconditionFailed("policy.unchanged", "the policy already has these values")
            settings = to_settings(updated)
            stored = org_id or ""
            if await tx.policies.find(kind, stored) is None:
                await tx.policies.insert(new_id(), kind, settings, org_id=stored, at=ctx.now())
            else:
                await tx.policies.update(kind, settings, org_id=stored, at=ctx.now())
            await self._record(tx, ctx, kind, org_id, "changed", {"changes": changed})
            return PolicyState(kind, org_id, updated, state.default, inherited=False)

    async def reset(self, ctx: Context, kind: str, org_id: str) -> PolicyState:
        """Remove an organisation's override, so the instance default applies again."""
        kind = policy_kind(kind)
        await self._require(ctx, "write", org_id)
        async with self._store.transaction() as tx:
            if not await tx.policies.delete(kind, org_id):
                raise PreconditionFailed(
                    "policy.not_overridden", "the organisation already uses the default"
                )
            await self._record(tx, ctx, kind, org_id, "reset", {})
            return await _state(tx, kind, org_id)

    async def _require(self, ctx: Context, access: str, org_id: str | None) -> None:
        await require_level(self._authz, self._store, ctx, access, org_id)

    async def _record(
        self,
        tx: Repositories,
        ctx: Context,
        kind: str,
        org_id: str | None,
        action: str,
        payload: dict[str, Any],
    ) -> None:
        payload = {"kind": kind} | payload
        await record_level_event(tx, ctx, f"policy.{kind}", org_id, action, payload)


async def _state(tx: Repositories, kind: str, org_id: str | None) -> PolicyState:
    policy_type: type[Any] = POLICY_KINDS[kind]
    default: Any = from_settings(policy_type, await tx.policies.find(kind, ""))
    override = await tx.policies.find(kind, org_id) if org_id else None
    if override is None:
        return PolicyState(kind, org_id, default, default, inherited=org_id is not None)
    return PolicyState(kind, org_id, from_settings(policy_type, override), default, inherited=False)


def _differences(before: Any, after: Any) -> dict[str, Any]:
    old, new = to_settings(before), to_settings(after)
    return {name: value for name, value in new.items() if old[name] != value}
