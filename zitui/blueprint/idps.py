"""External identity providers in a blueprint: `[[idps]]` for the instance (every
organisation's login), `[[orgs.idps]]` for one organisation.

A provider is found by its name within its owner. The file is checked by the IdP service's own
rules when it is read; applying creates what is missing and brings an existing provider to the
settings the file names (the others keep their stored values). A file without
`client_secret` keeps the stored secret; one with it is compared with the stored secret in
constant time, never read back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from zitui.blueprint.reading import BlueprintError, Table, describe, quoted
from zitui.blueprint.state import ApplyState, at
from zitui.core.idp_templates import template_of
from zitui.core.idps import IdpSettings, validated
from zitui.errors import InvalidArgument
from zitui.records import AutoLinking, IdentityProvider, IdpType

KEY = "idps"
TYPES = tuple(t.value for t in IdpType)
TEXT_KEYS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "id_attribute",
)
FLAG_KEYS = ("use_pkce", "id_token_mapping")
OPTION_FLAGS = ("creation_allowed", "linking_allowed", "auto_creation", "auto_update")
# A template's own fields (IdentityProvider.extra); only the kinds whose template has one take it.
EXTRA_KEYS = ("base_url", "tenant", "email_verified", "team_id", "key_id")
IDP_KEYS = (
    "name",
    "type",
    "client_id",
    "client_secret",
    *TEXT_KEYS,
    "scopes",
    *FLAG_KEYS,
    *OPTION_FLAGS,
    "auto_linking",
    *EXTRA_KEYS,
)


@dataclass(frozen=True)
class IdpSpec:
    """One provider of the file. `values` holds the IdpSettings fields the file names (scopes
    as a tuple), `options` the IdpOptions fields, `extra` the template fields as the service
    stores them; `client_secret` is "" when the file has none."""

    path: str
    name: str
    type: IdpType
    values: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    client_secret: str = field(default="", repr=False)

    def settings(self, current: IdentityProvider | None = None) -> IdpSettings:
        """The settings to store: the file's over `current` (a provider of the same type),
        or over the defaults for a new provider or one whose type changes."""
        base = IdpSettings(name=self.name, type=self.type, client_id="")
        if current is not None and current.type is self.type:
            base = replace(current_settings(current), name=self.name)
        return replace(
            base,
            **self.values,
            client_secret=self.client_secret or None,
            options=replace(base.options, **self.options),
            extra={**base.extra, **self.extra},
        )


def current_settings(idp: IdentityProvider) -> IdpSettings:
    """A stored provider's settings, keeping its secret (`client_secret` None)."""
    return IdpSettings(
        name=idp.name,
        type=idp.type,
        client_id=idp.client_id,
        issuer=idp.issuer,
        authorization_endpoint=idp.authorization_endpoint,
        token_endpoint=idp.token_endpoint,
        userinfo_endpoint=idp.userinfo_endpoint,
        id_attribute=idp.id_attribute,
        scopes=idp.scopes,
        use_pkce=idp.use_pkce,
        id_token_mapping=idp.id_token_mapping,
        options=idp.options,
        extra=dict(idp.extra),
    )


# --- reading -------------------------------------------------------------------------------


def parse_idps(parent: Table) -> tuple[IdpSpec, ...]:
    """The `[[idps]]` of `parent` (the file's top or an organisation), each checked."""
    return tuple(_spec(t) for t in parent.tables(KEY, IDP_KEYS))


def _spec(t: Table) -> IdpSpec:
    kind = IdpType(t.choice("type", TYPES))
    values: dict[str, Any] = {"client_id": t.text("client_id")}
    values.update({key: t.text(key) for key in TEXT_KEYS if t.has(key)})
    values.update({key: t.flag(key) for key in FLAG_KEYS if t.has(key)})
    if t.has("scopes"):
        values["scopes"] = t.texts("scopes")
    options: dict[str, Any] = {key: t.flag(key) for key in OPTION_FLAGS if t.has(key)}
    if t.has("auto_linking"):
        linking = t.choice("auto_linking", [a.value for a in AutoLinking])
        options["auto_linking"] = AutoLinking(linking)
    spec = IdpSpec(
        path=t.path,
        name=t.text("name", name=True),
        type=kind,
        values=values,
        options=options,
        extra=_extra(t, kind),
        client_secret=t.text("client_secret", default=""),
    )
    try:
        validated("", "", spec.settings())
    except InvalidArgument as exc:
        raise _refused_at(t, exc) from exc
    return spec


def _extra(t: Table, kind: IdpType) -> dict[str, str]:
    """The template fields of this kind the file names; another kind's is refused."""
    taken = tuple(template_of(kind).extra)
    extra: dict[str, str] = {}
    for key in EXTRA_KEYS:
        if not t.has(key):
            continue
        if key not in taken:
            expected = f"; they take {quoted(taken)}" if taken else ""
            raise BlueprintError(t.at(key), f"not a key of {kind} providers{expected}")
        if key == "email_verified":
            extra[key] = "true" if t.flag(key) else "false"
        else:
            extra[key] = t.text(key)
    return extra


def _refused_at(t: Table, exc: InvalidArgument) -> BlueprintError:
    """The IdP service's refusal at the file's key it names, with the value the file gave
    (never the secret)."""
    key = exc.field if exc.field in IDP_KEYS else None
    if key is None:
        return BlueprintError(t.path, exc.message, code=exc.code)
    value = t.raw(key)
    shown = isinstance(value, str) and value and key != "client_secret"
    problem = f"{describe(value)}: {exc.message}" if shown else exc.message
    return BlueprintError(t.at(key), problem, code=exc.code)


# --- applying ------------------------------------------------------------------------------


async def apply_idps(
    state: ApplyState, specs: tuple[IdpSpec, ...], *, org_id: str, owner: str
) -> None:
    """Create the providers of `org_id` ("" the instance) that are missing and bring the
    others to the file's settings."""
    for spec in specs:
        await _ensure(state, spec, org_id, owner)


async def _ensure(state: ApplyState, spec: IdpSpec, org_id: str, owner: str) -> None:
    service, ctx = state.services.idps, state.ctx
    what = f"identity provider {spec.name} of {owner}"
    with at(spec.path, IDP_KEYS):
        found = await service.find_by_name(ctx, org_id, spec.name)
        if found is None:
            await service.add(ctx, org_id, spec.settings())
            state.created(what)
            return
        wanted = spec.settings(found)
        changed = _changed_keys(found, validated(found.id, org_id, wanted))
        secret = spec.client_secret
        if secret and not await service.secret_matches(ctx, found.id, secret):
            changed.append("client_secret")
        if not changed:
            return
        if "client_secret" not in changed:
            wanted = replace(wanted, client_secret=None)  # not encrypted (and recorded) again
        await service.change(ctx, found.id, wanted)
    state.changed(f"{what}: {', '.join(changed)}")


def _changed_keys(current: IdentityProvider, wanted: IdentityProvider) -> list[str]:
    """The file's keys whose setting differs from the stored one (scopes in any order)."""
    compared = ("type", "client_id", *TEXT_KEYS, *FLAG_KEYS)
    keys = [key for key in compared if getattr(current, key) != getattr(wanted, key)]
    if set(current.scopes) != set(wanted.scopes):
        keys.append("scopes")
    stored, asked = asdict(current.options), asdict(wanted.options)
    keys += [key for key in (*OPTION_FLAGS, "auto_linking") if stored[key] != asked[key]]
    keys += [key for key in EXTRA_KEYS if current.extra.get(key) != wanted.extra.get(key)]
    return keys
