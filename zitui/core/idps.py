"""External identity providers: managers add, change, list and remove them for the instance
(every organisation's login) or one organisation; the login asks which ones a page offers.

The client secret (Apple: the signing key) is encrypted under the master key, bound to the
provider's id, and leaves the core only to the protocol client (`idp_client.py`).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from urllib.parse import SplitResult, urlsplit

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.credentials import login_policy
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.idp_templates import AZURE_TENANTS, template_of
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.policies import LoginPolicy
from zitui.errors import AlreadyExists, InvalidArgument, NotFound
from zitui.records import IdentityProvider, IdpOptions, IdpType
from zitui.store import Repositories, Store
from zitui.store.repos.idps import StoredIdp

PURPOSE = "idp.client_secret"
CALLBACK_PATH = "/ui/login/login/externalidp/callback"
FORM_CALLBACK_PATH = f"{CALLBACK_PATH}/form"
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,200}$")
_EXTRA = re.compile(r"^[A-Za-z0-9._-]{0,200}$")
MAX_SCOPES = 30


@dataclass(frozen=True)
class IdpSettings:
    """What a manager sets. `client_secret` None keeps the stored one. `scopes` empty takes
    the template's. URLs left empty take the template's (or, for OpenID Connect, the
    issuer's discovery document)."""

    name: str
    type: IdpType
    client_id: str
    client_secret: str | None = None
    issuer: str = ""
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    userinfo_endpoint: str = ""
    id_attribute: str = ""
    scopes: tuple[str, ...] = ()
    use_pkce: bool = True
    id_token_mapping: bool = False
    options: IdpOptions = field(default_factory=IdpOptions)
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"IdpSettings(name={self.name!r}, type={self.type!r}, client_secret=<hidden>)"


def callback_urls(issuer: str) -> tuple[str, str]:
    """The redirect URIs to register at a provider: ZITADEL's login v1 callback, and its
    form_post twin."""
    base = issuer.rstrip("/")
    return f"{base}{CALLBACK_PATH}", f"{base}{FORM_CALLBACK_PATH}"


class IdpService:
    def __init__(self, store: Store, authz: Authorizer, master_key: MasterKey) -> None:
        self._store = store
        self._authz = authz
        self._master_key = master_key

    async def add(self, ctx: Context, org_id: str, settings: IdpSettings) -> IdentityProvider:
        """A new provider of the instance (`org_id` "") or of that organisation."""
        await self._require(ctx, org_id, "write")
        idp_id = new_id()
        idp = validated(idp_id, org_id, settings)
        secret_enc = self._encrypted(idp_id, settings.client_secret or "")
        idp = replace(idp, has_secret=bool(secret_enc), created_at=ctx.now(), updated_at=ctx.now())
        async with self._store.transaction() as tx:
            if org_id and await tx.orgs.find(org_id) is None:
                raise NotFound("org.not_found", "organisation not found")
            await _unique_name(tx, idp)
            await tx.idps.insert(idp, secret_enc=secret_enc, at=ctx.now())
            await _record(tx, ctx, idp, "added")
        return idp

    async def change(self, ctx: Context, idp_id: str, settings: IdpSettings) -> IdentityProvider:
        """Replace a provider's settings; its links stay."""
        async with self._store.reader() as tx:
            stored = await self._find(tx, idp_id)
        await self._require(ctx, stored.idp.org_id, "write")
        idp = validated(idp_id, stored.idp.org_id, settings)
        secret_enc = stored.secret_enc
        if settings.client_secret is not None:
            secret_enc = self._encrypted(idp_id, settings.client_secret)
        idp = replace(
            idp,
            has_secret=bool(secret_enc),
            created_at=stored.idp.created_at,
            updated_at=ctx.now(),
        )
        async with self._store.transaction() as tx:
            await self._find(tx, idp_id)
            await _unique_name(tx, idp)
            await tx.idps.update(idp, secret_enc=secret_enc, at=ctx.now())
            changed = secret_enc != stored.secret_enc
            await _record(tx, ctx, idp, "changed", secret_changed=changed)
        return idp

    async def remove(self, ctx: Context, idp_id: str) -> None:
        """Remove a provider and every user's link to it."""
        async with self._store.reader() as tx:
            stored = await self._find(tx, idp_id)
        await self._require(ctx, stored.idp.org_id, "delete")
        async with self._store.transaction() as tx:
            await self._find(tx, idp_id)
            await tx.idps.remove(idp_id)
            await _record(tx, ctx, stored.idp, "removed")

    async def get(self, ctx: Context, idp_id: str) -> IdentityProvider:
        async with self._store.reader() as tx:
            stored = await self._find(tx, idp_id)
        await self._require(ctx, stored.idp.org_id, "read")
        return stored.idp

    async def owned(self, ctx: Context, org_id: str) -> list[IdentityProvider]:
        """The providers the instance (`org_id` "") or that organisation owns."""
        await self._require(ctx, org_id, "read")
        async with self._store.reader() as tx:
            return [s.idp for s in await tx.idps.list_for([org_id])]

    async def find_by_name(self, ctx: Context, org_id: str, name: str) -> IdentityProvider | None:
        await self._require(ctx, org_id, "read")
        async with self._store.reader() as tx:
            stored = await tx.idps.find_by_name(org_id, name)
        return stored.idp if stored else None

    async def secret_matches(self, ctx: Context, idp_id: str, secret: str) -> bool:
        """Whether `secret` is the provider's stored client secret, compared in constant time
        (how a blueprint knows whether to set the secret again without reading it)."""
        async with self._store.reader() as tx:
            stored = await self._find(tx, idp_id)
        await self._require(ctx, stored.idp.org_id, "write")
        return hmac.compare_digest(self.secret_of(stored).encode(), secret.encode())

    # --- for the login, not for managers ------------------------------------------------

    async def offered(
        self, tx: Repositories, org_id: str, *, policy: LoginPolicy | None = None
    ) -> list[IdentityProvider]:
        """The providers a login page of `org_id` ("" none requested) offers: the
        instance's and the organisation's own, when its login policy (read here unless the
        caller has it) allows external IdPs."""
        policy = policy or await login_policy(tx, org_id or None)
        if not policy.allow_external_idp:
            return []
        owners = ["", org_id] if org_id else [""]
        return [s.idp for s in await tx.idps.list_for(owners)]

    async def stored(self, tx: Repositories, idp_id: str) -> StoredIdp | None:
        return await tx.idps.find(idp_id)

    def secret_of(self, stored: StoredIdp) -> str:
        """The provider's client secret (Apple: its signing key), decrypted."""
        if not stored.secret_enc:
            return ""
        return self._master_key.decrypt(stored.secret_enc, purpose=_purpose(stored.idp.id)).decode()

    # --- helpers -------------------------------------------------------------------------

    async def _require(self, ctx: Context, org_id: str, action: str) -> None:
        if org_id:
            await self._authz.require(ctx, f"org.idp.{action}", Resource(org_id=org_id))
        else:
            await self._authz.require(ctx, f"iam.idp.{action}", Resource.instance())

    @staticmethod
    async def _find(tx: Repositories, idp_id: str) -> StoredIdp:
        stored = await tx.idps.find(idp_id) if idp_id else None
        if stored is None:
            raise NotFound("idp.not_found", "identity provider not found")
        return stored

    def _encrypted(self, idp_id: str, secret: str) -> str:
        if not secret:
            return ""
        if len(secret) > 8000:
            raise InvalidArgument(
                "idp.client_secret_too_long", "the client secret is too long", field="client_secret"
            )
        return self._master_key.encrypt(secret.encode(), purpose=_purpose(idp_id))


def _purpose(idp_id: str) -> str:
    return f"{PURPOSE}:{idp_id}"


async def _record(
    tx: Repositories, ctx: Context, idp: IdentityProvider, action: str, **more: bool
) -> None:
    """`instance.idp.<action>` or `org.idp.<action>`: which provider, never its secret."""
    owner = "org" if idp.org_id else "instance"
    instance = None if idp.org_id else await tx.instances.find()
    aggregate = ("org", idp.org_id) if idp.org_id else ("instance", instance.id if instance else "")
    payload = {"idp_id": idp.id, "name": idp.name, "type": str(idp.type), **more}
    payload["client_id"] = idp.client_id
    await record(
        tx,
        ctx,
        f"{owner}.idp.{action}",
        aggregate=aggregate,
        org_id=idp.org_id or None,
        payload=payload,
    )


async def _unique_name(tx: Repositories, idp: IdentityProvider) -> None:
    same = await tx.idps.find_by_name(idp.org_id, idp.name)
    if same is not None and same.idp.id != idp.id:
        raise AlreadyExists(
            "idp.name_taken", "an identity provider of this name exists", field="name"
        )


def validated(idp_id: str, org_id: str, settings: IdpSettings) -> IdentityProvider:
    """The provider these settings describe, with the template's defaults, or
    InvalidArgument naming the field."""
    kind = settings.type
    if not isinstance(kind, IdpType):
        kind = IdpType(validation.choice(str(kind), [t.value for t in IdpType], field="type"))
    template = template_of(kind)
    extra = _extra(kind, settings.extra, template.extra)
    scopes = settings.scopes or template.scopes
    idp = IdentityProvider(
        id=idp_id,
        org_id=org_id,
        name=validation.text(settings.name, field="name"),
        type=kind,
        client_id=validation.text(settings.client_id, field="client_id", max_length=400),
        has_secret=False,
        issuer=_url(settings.issuer, "issuer"),
        authorization_endpoint=_url(settings.authorization_endpoint, "authorization_endpoint"),
        token_endpoint=_url(settings.token_endpoint, "token_endpoint"),
        userinfo_endpoint=_url(settings.userinfo_endpoint, "userinfo_endpoint"),
        id_attribute=validation.text(settings.id_attribute, field="id_attribute", required=False),
        scopes=_scopes(scopes),
        use_pkce=settings.use_pkce,
        id_token_mapping=settings.id_token_mapping,
        options=settings.options,
        extra=extra,
    )
    _require_endpoints(idp)
    return idp


def _require_endpoints(idp: IdentityProvider) -> None:
    template = template_of(idp.type)
    if idp.type is IdpType.OIDC and not idp.issuer:
        raise InvalidArgument(
            "idp.issuer_required", "an OpenID provider needs its issuer", field="issuer"
        )
    if idp.type is IdpType.OAUTH:
        for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
            if not getattr(idp, name):
                raise InvalidArgument(
                    f"idp.{name}_required",
                    f"an OAuth provider needs its {name.replace('_', ' ')}",
                    field=name,
                )
        if not idp.id_attribute:
            raise InvalidArgument(
                "idp.id_attribute_required",
                "name the userinfo attribute that holds the user's id",
                field="id_attribute",
            )
    if template.oidc and "openid" not in idp.scopes:
        raise InvalidArgument(
            "idp.openid_scope_required", "an OpenID provider needs the openid scope", field="scopes"
        )


def _extra(kind: IdpType, given: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    unknown = set(given) - set(defaults)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidArgument("idp.extra_unknown", f"{kind} providers take no {name}", field=name)
    extra = {**defaults, **{k: str(v).strip() for k, v in given.items()}}
    for name, value in extra.items():
        if name == "base_url":
            extra[name] = _url(value, name) or defaults[name]
        elif not _EXTRA.match(value):
            raise InvalidArgument(f"idp.{name}_invalid", f"{name} is not valid", field=name)
    if kind is IdpType.AZURE and not extra["tenant"]:
        extra["tenant"] = AZURE_TENANTS[0]
    if kind is IdpType.AZURE and extra["email_verified"] not in ("true", "false"):
        raise InvalidArgument(
            "idp.email_verified_invalid", "email_verified is true or false", field="email_verified"
        )
    if kind is IdpType.APPLE and not (extra["team_id"] and extra["key_id"]):
        missing = "team_id" if not extra["team_id"] else "key_id"
        raise InvalidArgument(
            "idp.apple_key_required", "Apple needs its team id and key id", field=missing
        )
    return extra


def _scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if len(cleaned) > MAX_SCOPES or any(not _SCOPE.match(s) for s in cleaned):
        raise InvalidArgument("idp.scopes_invalid", "the scopes are not valid", field="scopes")
    return cleaned


def _url(value: str, name: str) -> str:
    """An https URL (http only on this machine's loopback), or ""."""
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    ok = parts.scheme in ("https", "http") and bool(parts.hostname) and len(value) <= 2000
    # urlsplit drops tabs and newlines and never checks the port; the stored value keeps both.
    ok = ok and value.isprintable() and " " not in value and _port_ok(parts)
    if ok and parts.scheme == "http":
        ok = loopback(parts.hostname or "")
    if not ok or parts.fragment or parts.username:
        raise InvalidArgument(
            f"idp.{name}_invalid",
            f"{name.replace('_', ' ')} must be an https URL (http only on localhost)",
            field=name,
        )
    # An issuer is compared with the tokens' `iss` as written; a base URL gets paths added.
    return value.rstrip("/") if name == "base_url" else value


def _port_ok(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - reading it is the check
    except ValueError:
        return False
    return True


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
