"""Policies: the instance defaults, or one organisation's overrides over them; a form per
policy shows each value in force and whether it is inherited or the organisation's own."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.policies import POLICY_KINDS, to_settings
from zitui.core.policy_rules import (
    LIFETIME_SUFFIX,
    MULTI_FACTORS,
    SECOND_FACTORS,
    format_duration,
)
from zitui.core.policy_service import PolicyState
from zitui.core.services import Services
from zitui.records import Organization, Page
from zitui.screens.form import Field, Values
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen

TITLES = {
    "login": "Login",
    "password_complexity": "Password complexity",
    "password_age": "Password age",
    "lockout": "Lockout",
    "domain": "Domain",
    "privacy": "Legal and support",
    "notification": "Notification",
}
FACTORS = {"second_factors": SECOND_FACTORS, "multi_factors": MULTI_FACTORS}
_WHOLE_NUMBER = re.compile(r"^-?\d+$")


def form_key(name: str) -> str:
    """The form's (and the blueprint's) name of a stored field: lifetimes lose their `_s`."""
    return name.removesuffix("_s") if name.endswith(f"{LIFETIME_SUFFIX}_s") else name


def shown(name: str, value: Any) -> Any:
    """A stored value as its form field holds it."""
    if name.endswith(f"{LIFETIME_SUFFIX}_s"):
        return format_duration(int(value))
    if isinstance(value, bool | tuple | list):
        return list(value) if isinstance(value, tuple | list) else value
    return str(value)


def source(state: PolicyState) -> str:
    if state.org_id is None:
        return "instance default"
    return "inherited" if state.inherited else "own"


class PoliciesScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("policies.tcss")
    AUTO_FOCUS = "#policies-table"
    BINDINGS = [
        Binding("e", "edit", "Edit"),
        Binding("delete", "reset", "Reset to default"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(
        self, services: Services, context: Context, *, org: Organization | None = None
    ) -> None:
        super().__init__(services, context)
        self.org = org

    @property
    def org_id(self) -> str | None:
        return self.org.id if self.org else None

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.org.id) if self.org else Resource.instance()

    @property
    def writable(self) -> bool:
        permission = "policy.write" if self.org else "iam.policy.write"
        return self.can(permission, self.resource)

    @property
    def table(self) -> PagedTable:
        return self.query_one("#policies", PagedTable)

    def compose(self) -> ComposeResult:
        if self.org is None:
            title, detail = "Policies · the instance defaults", "Organisations inherit them."
        else:
            title = f"Policies · Organisation {self.org.name}"
            detail = "Inherited from the instance default until changed; Delete resets."
        yield from self.title_bar(title, f"{detail} Enter or e edits.")
        yield PagedTable(
            self.load_page,
            (
                Column("Policy", lambda s: TITLES[s.kind]),
                Column("Source", source),
                Column("Differs from the default", self.differing),
            ),
            Nouns("policies", "policy"),
            id="policies",
            key=lambda s: s.kind,
        )
        yield Footer(compact=True)

    @staticmethod
    def differing(state: PolicyState) -> str:
        return ", ".join(form_key(name) for name in state.overridden_fields())

    async def load_page(self, search: str, offset: int, limit: int) -> Page[PolicyState]:
        states = [
            await self.services.policies.get(self.context, kind, self.org_id)
            for kind in POLICY_KINDS
        ]
        return page_of(states, search, offset, limit, text=lambda s: TITLES[s.kind])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.table.current if self.is_mounted else None
        match action:
            case "edit":
                return self.writable and state is not None
            case "reset":
                return (
                    self.writable and state is not None and not state.inherited and bool(self.org)
                )
        return True

    def action_reload(self) -> None:
        self.table.reload()

    @on(PagedTable.Opened, "#policies")
    def opened(self, event: PagedTable.Opened) -> None:
        if self.check_action("edit", ()):
            self.edit(event.item)

    def action_edit(self) -> None:
        state = self.table.current
        if state is not None:
            self.edit(state)

    def edit(self, state: PolicyState) -> None:
        stored = to_settings(state.effective)
        before = {form_key(k): shown(k, v) for k, v in stored.items()}
        numbers = {k for k, v in stored.items() if type(v) is int and form_key(k) == k}

        async def save(values: Values) -> PolicyState:
            changes = {
                k: _number(v) if k in numbers else v
                for k, v in values.items()
                if _comparable(v) != _comparable(before[k])
            }
            return await self.services.policies.set(self.context, state.kind, changes, self.org_id)

        def saved(_: PolicyState) -> None:
            self.notify(f"The {TITLES[state.kind].lower()} policy is saved.", title="Saved")
            self.table.reload()

        self.form(
            f"{TITLES[state.kind]} policy · {self.owner}",
            self.fields_of(state),
            save,
            saved,
            intro=self.intro(state),
        )

    @property
    def owner(self) -> str:
        return self.org.name if self.org else "instance default"

    def intro(self, state: PolicyState) -> str:
        if state.org_id is None:
            return "Organisations without their own policy use these values."
        if state.inherited:
            return "Inherited from the instance default; saving makes the organisation's own."
        return "The organisation's own policy; Delete on the list resets it to the default."

    def fields_of(self, state: PolicyState) -> list[Field]:
        default = to_settings(state.default)
        result = []
        for f in fields(state.effective):
            value = getattr(state.effective, f.name)
            result.append(
                _field(f.name, value, hint=self.hint(state, f.name, value, default[f.name]))
            )
        return result

    @staticmethod
    def hint(state: PolicyState, name: str, value: Any, default: Any) -> str:
        if state.org_id is None:
            return ""
        if state.inherited:
            return "inherited"
        stored = list(value) if isinstance(value, tuple) else value
        if stored == default:
            return "own (same as the default)"
        return f"own; default: {_describe(shown(name, default))}"

    def action_reset(self) -> None:
        state = self.table.current
        if state is None or self.org_id is None:
            return
        org_id, title = self.org_id, TITLES[state.kind].lower()

        def reset(_: PolicyState) -> None:
            self.notify(f"The {title} policy follows the instance default again.", title="Reset")
            self.table.reload()

        self.confirm(
            "Reset policy",
            f"Forget this organisation's {title} policy and use the instance default?",
            lambda: self.services.policies.reset(self.context, state.kind, org_id),
            reset,
            action="Reset",
        )


def _field(name: str, value: Any, *, hint: str) -> Field:
    key, label = form_key(name), form_key(name).replace("_", " ")
    if name in FACTORS:
        choices = tuple((c, c) for c in FACTORS[name])
        return Field(key, label, list(value), kind="multi", choices=choices, hint=hint)
    if isinstance(value, bool):
        return Field(key, label, value, kind="check", hint=hint)
    placeholder = "240h, 30m or seconds" if name.endswith(f"{LIFETIME_SUFFIX}_s") else ""
    return Field(key, label, shown(name, value), placeholder=placeholder, hint=hint)


def _comparable(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def _number(value: Any) -> Any:
    """A whole number typed into a number's field goes to the service as a number; anything
    else as typed, for the service to refuse by the field's name."""
    if isinstance(value, str) and _WHOLE_NUMBER.match(value.strip()):
        return int(value.strip())
    return value


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value) or "empty"
