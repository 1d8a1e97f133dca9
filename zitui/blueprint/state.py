"""What one application of a blueprint knows: the objects it found or made, and what changed."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from zitui.blueprint.credentials import Credentials
from zitui.blueprint.reading import BlueprintError, join
from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from zitui.records import Organization, Project, ProjectGrant, User

# Errors of a service that mean "this part of the file cannot be applied"; others (the store
# is locked, the disk is full) are about the run, not the file, and pass through unchanged.
_REFUSALS = (InvalidArgument, NotFound, AlreadyExists, PermissionDenied, PreconditionFailed)


@dataclass
class Outcome:
    """What a run did, in order ("created …", "changed …"), and the secrets shown once."""

    lines: list[str] = field(default_factory=list)
    created: int = 0
    changed: int = 0
    credentials: Credentials = field(default_factory=dict)

    def add_credentials(self, path: str, **values: Any) -> None:
        self.credentials.setdefault(path, {}).update(values)


@dataclass
class ApplyState:
    """The run's context and what it has found or made, keyed by the file's names in lower
    case (organisation; organisation and username or project name; project id)."""

    services: Services
    ctx: Context
    outcome: Outcome = field(default_factory=Outcome)
    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[tuple[str, str], User] = field(default_factory=dict)
    projects: dict[tuple[str, str], Project] = field(default_factory=dict)
    roles: dict[str, set[str]] = field(default_factory=dict)
    project_grants: dict[str, dict[str, ProjectGrant]] = field(default_factory=dict)

    def created(self, what: str) -> None:
        self.outcome.lines.append(f"created {what}")
        self.outcome.created += 1

    def changed(self, what: str) -> None:
        self.outcome.lines.append(f"changed {what}")
        self.outcome.changed += 1


@contextmanager
def at(
    path: str, keys: Collection[str] = (), *, aliases: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Report a service's refusal at `path`, or at its key the service names as its field.

    `aliases` maps a service's field name to the file's key where they differ.
    """
    try:
        yield
    except BlueprintError:
        raise
    except _REFUSALS as exc:
        key = (aliases or {}).get(exc.field or "", exc.field)
        where = join(path, key) if key and key in keys else path
        raise BlueprintError(where, exc.message, code=exc.code) from exc
