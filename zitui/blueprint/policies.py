"""Policies in a blueprint: `[login_policy]`, `[password_policy]`, `[password_age_policy]`,
`[lockout_policy]`, `[domain_policy]`, `[legal]` and `[notification_policy]` for the instance
defaults, the same under `[[orgs]]` for an organisation's overrides. Every value is checked by
the policy service's rules when the file is read; applying sets only what differs from the
policy in force, so an organisation whose values match the default keeps inheriting it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zitui.blueprint.reading import BlueprintError, Table, describe
from zitui.blueprint.state import ApplyState, at
from zitui.core.policies import to_settings
from zitui.core.policy_rules import file_keys, validated
from zitui.errors import InvalidArgument

#: The file's table for each stored policy kind.
TABLES = {
    "login_policy": "login",
    "password_policy": "password_complexity",
    "password_age_policy": "password_age",
    "lockout_policy": "lockout",
    "domain_policy": "domain",
    "legal": "privacy",
    "notification_policy": "notification",
}
POLICY_TABLES = tuple(TABLES)


@dataclass(frozen=True)
class PolicySpec:
    """One policy table: the values it names, keyed and typed as the service stores them."""

    path: str
    table: str
    kind: str
    values: dict[str, Any] = field(default_factory=dict)
    # The file's key for each stored field, to report a refusal where the file wrote it.
    keys: dict[str, str] = field(default_factory=dict)


def parse_policies(parent: Table) -> tuple[PolicySpec, ...]:
    """The policy tables of `parent` (the file's top or an organisation), checked."""
    specs: list[PolicySpec] = []
    for table, kind in TABLES.items():
        t = parent.table(table, file_keys(kind))
        if t is not None:
            specs.append(_spec(t, table, kind))
    return tuple(specs)


def _spec(t: Table, table: str, kind: str) -> PolicySpec:
    values: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key in sorted(t.given):
        raw = t.raw(key)
        try:
            ((name, value),) = validated(kind, {key: raw}).items()
        except InvalidArgument as exc:
            raise BlueprintError(
                t.at(key), f"{describe(raw)}: {exc.message}", code=exc.code
            ) from exc
        values[name] = value
        keys[name] = key
    return PolicySpec(path=t.path, table=table, kind=kind, values=values, keys=keys)


async def apply_policies(
    state: ApplyState, specs: tuple[PolicySpec, ...], *, org_id: str | None, owner: str
) -> None:
    """Set each policy's values that differ from the ones in force at that level."""
    service, ctx = state.services.policies, state.ctx
    for spec in specs:
        with at(spec.path, tuple(spec.keys.values())):
            current = to_settings((await service.get(ctx, spec.kind, org_id)).effective)
            changes = {k: v for k, v in spec.values.items() if current[k] != _stored(v)}
            if not changes:
                continue
            await service.set(ctx, spec.kind, changes, org_id)
        fields = ", ".join(spec.keys[name] for name in sorted(changes))
        state.changed(f"{spec.table.replace('_', ' ')} of {owner}: {fields}")


def _stored(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
