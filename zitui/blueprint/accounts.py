"""Applying users, machine users with their credentials, and organisation managers."""

from __future__ import annotations

from contextlib import AbstractContextManager

from zitui.blueprint.reading import BlueprintError, describe
from zitui.blueprint.specs import MACHINE_KEYS, USER_KEYS, MachineSpec, OrgSpec, UserSpec
from zitui.blueprint.state import ApplyState, at
from zitui.core.ssh_keys import parse_public_key
from zitui.core.users import NewHumanUser
from zitui.records import Organization, Scope, User, UserKind


def _org(state: ApplyState, spec: OrgSpec) -> Organization:
    return state.orgs[spec.name.lower()]


async def ensure_users(state: ApplyState, spec: OrgSpec) -> None:
    """Create missing human users; an existing user's profile and password stay theirs."""
    org = _org(state, spec)
    for user in spec.users:
        with at(user.path, USER_KEYS):
            found = await _find(state, org, user.path, user.username, UserKind.HUMAN)
            if found is None:
                found = await state.services.users.create_human_user(
                    state.ctx, org.id, _new_human(user)
                )
                state.created(f"user {spec.name}/{user.username}")
            await _ensure_ssh_keys(state, f"{spec.name}/{user.username}", user, found)
        state.users[(spec.name.lower(), user.username.lower())] = found


async def _ensure_ssh_keys(state: ApplyState, name: str, spec: UserSpec, user: User) -> None:
    """Add the file's keys the user lacks; keys the file does not list are kept."""
    if not spec.ssh_keys:
        return
    keys = state.services.ssh_keys
    held = {k.fingerprint for k in await keys.list_keys(state.ctx, user.id)}
    for index, line in enumerate(spec.ssh_keys):
        parsed = parse_public_key(line)
        if parsed.fingerprint in held:
            continue
        with at(f"{spec.path}.ssh_keys[{index}]"):
            await keys.add_key(state.ctx, user.id, line)
        held.add(parsed.fingerprint)
        state.created(f"SSH key {parsed.fingerprint} of user {name}")


def _new_human(user: UserSpec) -> NewHumanUser:
    return NewHumanUser(
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        email_verified=user.email_verified,
        password=user.password,
        password_change_required=user.password_change_required,
    )


async def _find(
    state: ApplyState, org: Organization, path: str, username: str, kind: UserKind
) -> User | None:
    found = await state.services.users.find_user_by_username(state.ctx, org.id, username)
    if found is not None and found.kind is not kind:
        raise BlueprintError(
            path + ".username",
            f"{org.name} has a {found.kind.value} user {describe(found.username)} already",
        )
    return found


async def ensure_machines(state: ApplyState, spec: OrgSpec) -> None:
    """Create missing machine users and the credentials asked for that they lack."""
    org = _org(state, spec)
    for machine in spec.machines:
        with at(machine.path, MACHINE_KEYS):
            found = await _find(state, org, machine.path, machine.username, UserKind.MACHINE)
            if found is None:
                found = await state.services.machines.create_machine_user(
                    state.ctx, org.id, machine.username, machine.name
                )
                state.created(f"machine user {spec.name}/{machine.username}")
            await _ensure_credentials(state, f"{spec.name}/{machine.username}", machine, found)
        state.users[(spec.name.lower(), machine.username.lower())] = found


async def _ensure_credentials(state: ApplyState, name: str, spec: MachineSpec, user: User) -> None:
    """Only a kind of credential the machine has none of is made: nothing is ever rotated.

    `name` is "Org/machine" as the file spells it; the credentials are keyed by it.
    """
    machines, ctx = state.services.machines, state.ctx
    made: dict[str, object] = {}
    if spec.secret and not user.has_secret:
        with at(spec.path + ".secret"):
            client_id, secret = await machines.generate_machine_secret(ctx, user.id)
        made.update(client_id=client_id, client_secret=secret)
    if spec.pat and not await machines.list_personal_access_tokens(ctx, user.id):
        with _expiry_at(spec.path + ".pat"):
            _, token = await machines.add_personal_access_token(
                ctx, user.id, expires_at=spec.pat_expires
            )
        made["pat"] = token
    if spec.key and not await machines.list_machine_keys(ctx, user.id):
        with _expiry_at(spec.path + ".key"):
            _, key_json = await machines.add_machine_key(ctx, user.id, expires_at=spec.key_expires)
        made["key"] = key_json
    if made:
        state.outcome.add_credentials(name, user_id=user.id, **made)
        state.created(f"credentials of {name}: {', '.join(sorted(made))}")


def _expiry_at(path: str) -> AbstractContextManager[None]:
    """Refusals of a credential, with the service's `expires_at` shown at the file's `expires`."""
    return at(path, ("expires",), aliases={"expires_at": "expires"})


async def ensure_managers(state: ApplyState, spec: OrgSpec) -> None:
    """Give each account its organisation manager roles; roles held already are kept."""
    org = _org(state, spec)
    accounts: list[UserSpec | MachineSpec] = [*spec.users, *spec.machines]
    for account in accounts:
        if account.managers:
            user = state.users[(spec.name.lower(), account.username.lower())]
            with at(account.path + ".managers"):
                name = f"{spec.name}/{account.username}"
                await ensure_member(state, user, Scope.ORG, org.id, name, account.managers)


async def ensure_member(
    state: ApplyState,
    user: User,
    scope: Scope,
    scope_id: str,
    name: str,
    roles: tuple[str, ...],
) -> None:
    """Give `user` the `roles` at one scope; roles held already, and others, are kept.

    `name` says who and where, as the report shows it.
    """
    members, ctx = state.services.memberships, state.ctx
    held = await members.list_user_memberships(ctx, user.id)
    current = next((m for m in held if m.scope is scope and m.scope_id == scope_id), None)
    if current is None:
        await members.add_member(ctx, user.id, scope, scope_id, list(roles))
        state.created(f"manager {name}: {', '.join(roles)}")
        return
    missing = [role for role in roles if role not in current.roles]
    if missing:
        await members.change_member(ctx, user.id, scope, scope_id, [*current.roles, *missing])
        state.changed(f"manager {name}: added {', '.join(missing)}")
