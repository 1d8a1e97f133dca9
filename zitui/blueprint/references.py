"""What one blueprint can get wrong on its own: names declared twice, a project granted to its
own organisation, a user granted the same project twice, a grant manager listed twice.

References to organisations, projects, roles, users and grants are resolved when the file is
applied, against the store after the file's own objects are in it: a file may refer to what
an earlier file or an operator created, and a refusal reads the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zitui.blueprint.reading import BlueprintError, describe, quoted
from zitui.blueprint.specs import Blueprint, OrgSpec


def check_references(blueprint: Blueprint) -> None:
    _unique((org.path + ".name", org.name) for org in blueprint.orgs)
    _unique((org.path + ".domain", org.domain) for org in blueprint.orgs if org.domain)
    _unique((idp.path + ".name", idp.name) for idp in blueprint.idps)
    for org in blueprint.orgs:
        _check_org(org)


def _unique(places: Iterable[tuple[str, str]]) -> None:
    """Refuse the second of two values equal but for case (as the store compares names)."""
    first: dict[str, str] = {}
    for path, value in places:
        if value.lower() in first:
            raise BlueprintError(
                path, f"{describe(value)} is declared twice (first at {first[value.lower()]})"
            )
        first[value.lower()] = path


def _check_org(org: OrgSpec) -> None:
    accounts = [(u.path, u.username) for u in org.users]
    accounts += [(m.path, m.username) for m in org.machines]
    _unique((path + ".username", username) for path, username in accounts)
    _unique((p.path + ".name", p.name) for p in org.projects)
    _unique((idp.path + ".name", idp.name) for idp in org.idps)
    for project in org.projects:
        _unique((a.path + ".name", a.name) for a in project.apps)
        _unique((g.path + ".org", g.org) for g in project.grants)
        for grant in project.grants:
            if grant.org.lower() == org.name.lower():
                raise BlueprintError(
                    grant.path + ".org", "a project is not granted to its own organisation"
                )
            _unique((m.path + ".user", m.user) for m in grant.managers)
    first: dict[tuple[str, str, str], str] = {}
    for user_grant in org.user_grants:
        key = (user_grant.user.lower(), user_grant.owner.lower(), user_grant.project.lower())
        if key in first:
            raise BlueprintError(
                user_grant.path,
                f"{user_grant.user} already has a grant for this project at {first[key]}",
            )
        first[key] = user_grant.path


def check_roles(path: str, wanted: Sequence[str], known: Sequence[str], where: str) -> None:
    """Every role in `wanted` must be one of `known` (the roles of `where`)."""
    for index, role in enumerate(wanted):
        if role not in known:
            listed = f"its roles: {quoted(known)}" if known else "it has no roles"
            raise BlueprintError(
                f"{path}[{index}]", f"{describe(role)} is not a role of {where} ({listed})"
            )
