"""The identity provider form shared by adding and editing: the fields a provider's kind
takes are shown, the others hidden, and its template's scopes pre-filled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from textual import on
from textual.widgets import Input, Select

from zitui.core.idp_templates import template_of
from zitui.core.idps import IdpSettings
from zitui.errors import InvalidArgument
from zitui.records import AutoLinking, IdentityProvider, IdpOptions, IdpType
from zitui.screens.form import Field, FormModal, Submit, Values

T = TypeVar("T")
FORM_CSS = Path(__file__).with_name("form.tcss")

KINDS = (
    ("Generic OpenID Connect", IdpType.OIDC.value),
    ("Generic OAuth 2.0", IdpType.OAUTH.value),
    ("Google", IdpType.GOOGLE.value),
    ("GitHub or GitHub Enterprise", IdpType.GITHUB.value),
    ("GitLab or self-hosted GitLab", IdpType.GITLAB.value),
    ("Microsoft Entra ID", IdpType.AZURE.value),
    ("Apple", IdpType.APPLE.value),
)
AUTO_LINKING = (
    ("No", AutoLinking.NONE.value),
    ("By username", AutoLinking.USERNAME.value),
    ("By verified email", AutoLinking.EMAIL.value),
)
OAUTH_FIELDS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "id_attribute")
# The form's fields that only some kinds use; the others are always shown.
KIND_FIELDS = (
    "client_secret",
    "key_file",
    "issuer",
    *OAUTH_FIELDS,
    "base_url",
    "tenant",
    "email_verified",
    "team_id",
    "key_id",
    "id_token_mapping",
)
# Template fields typed as text; `email_verified` is a checkbox.
_EXTRA_FIELDS = ("base_url", "tenant", "team_id", "key_id")
LABELS = {
    "issuer": "Issuer",
    "authorization_endpoint": "Authorization URL",
    "token_endpoint": "Token URL",
    "userinfo_endpoint": "Userinfo URL",
    "id_attribute": "Id attribute",
    "base_url": "Base URL",
    "tenant": "Tenant",
    "email_verified": "Emails verified",
    "team_id": "Team id",
    "key_id": "Key id",
    "key_file": "Private key file (.p8)",
}
# Apple's client secret is a PEM key; a text input keeps only the first line of a paste.
MAX_KEY_FILE = 64 * 1024


def fields_of_kind(kind: IdpType) -> frozenset[str]:
    """The kind-dependent fields a provider of `kind` takes: its template's own fields,
    the issuer of a generic OpenID provider, the endpoints of a generic OAuth one."""
    template = template_of(kind)
    names = set(template.extra)
    names.add("key_file" if kind is IdpType.APPLE else "client_secret")
    if kind is IdpType.OIDC:
        names.add("issuer")
    if kind is IdpType.OAUTH:
        names.update(OAUTH_FIELDS)
    if template.oidc:
        names.add("id_token_mapping")
    return frozenset(names)


def idp_fields(idp: IdentityProvider | None) -> list[Field]:
    """The form of a new provider (a generic OpenID one) or of `idp`."""
    kind = idp.type if idp else IdpType.OIDC
    extra = idp.extra if idp else {}
    options = idp.options if idp else IdpOptions()
    scopes = idp.scopes if idp else template_of(kind).scopes

    def text(name: str, placeholder: str = "") -> Field:
        value = extra.get(name, "") if name in _EXTRA_FIELDS else getattr(idp, name, "")
        return Field(name, LABELS[name], value, placeholder=placeholder)

    secret_hint = "Empty keeps the stored one." if idp and idp.has_secret else ""
    key_hint = "Empty keeps the stored key." if idp and idp.has_secret else ""
    return [
        Field("name", "Name", idp.name if idp else "", placeholder="shown on the login page"),
        Field("type", "Type", kind.value, kind="choice", choices=KINDS),
        Field("client_id", "Client id", idp.client_id if idp else ""),
        Field("client_secret", "Client secret", "", kind="password", hint=secret_hint),
        Field("key_file", LABELS["key_file"], "", placeholder="/path/to/AuthKey.p8", hint=key_hint),
        text("issuer", "https://login.example.com"),
        text("authorization_endpoint", "https://…/authorize"),
        text("token_endpoint", "https://…/token"),
        text("userinfo_endpoint", "https://…/userinfo"),
        text("id_attribute", "the userinfo attribute with the user's id"),
        text("base_url", "empty: github.com or gitlab.com"),
        text("tenant", "common, organizations, consumers or a tenant id"),
        Field(
            "email_verified",
            "The tenant's emails count as verified",
            extra.get("email_verified") == "true",
            kind="check",
        ),
        text("team_id"),
        text("key_id"),
        Field("scopes", "Scopes", " ".join(scopes), hint="Separated by spaces."),
        Field("use_pkce", "Use PKCE", idp.use_pkce if idp else True, kind="check"),
        Field(
            "id_token_mapping",
            "Map the profile from the ID token",
            idp.id_token_mapping if idp else False,
            kind="check",
        ),
        Field("creation_allowed", "Account creation allowed", options.creation_allowed, "check"),
        Field("linking_allowed", "Account linking allowed", options.linking_allowed, "check"),
        Field("auto_creation", "Create accounts automatically", options.auto_creation, "check"),
        Field("auto_update", "Update profiles on sign-in", options.auto_update, "check"),
        Field(
            "auto_linking",
            "Offer linking",
            options.auto_linking.value,
            kind="choice",
            choices=AUTO_LINKING,
        ),
    ]


async def idp_settings(values: Values, original: IdentityProvider | None) -> IdpSettings:
    """What the form holds, as the core takes it. A field the chosen kind does not use
    goes empty, unless the provider keeps its kind (a value set elsewhere stays). Apple's
    key is read from the file named."""
    kind = IdpType(values["type"])
    if kind is IdpType.APPLE:
        path = str(values["key_file"]).strip()
        secret = await asyncio.to_thread(read_key_file, Path(path).expanduser()) if path else None
    else:
        secret = values["client_secret"] or None
    used = fields_of_kind(kind)
    keep = original is not None and original.type is kind

    def url(name: str) -> str:
        return str(values[name]) if name in used or keep else ""

    extra = {
        name: ("true" if values[name] else "false")
        if name == "email_verified"
        else str(values[name])
        for name in template_of(kind).extra
    }
    return IdpSettings(
        name=values["name"],
        type=kind,
        client_id=values["client_id"],
        client_secret=secret,
        issuer=url("issuer"),
        authorization_endpoint=url("authorization_endpoint"),
        token_endpoint=url("token_endpoint"),
        userinfo_endpoint=url("userinfo_endpoint"),
        id_attribute=url("id_attribute"),
        scopes=tuple(str(values["scopes"]).split()),
        use_pkce=bool(values["use_pkce"]),
        id_token_mapping=bool(values["id_token_mapping"]) and "id_token_mapping" in used,
        options=IdpOptions(
            creation_allowed=bool(values["creation_allowed"]),
            linking_allowed=bool(values["linking_allowed"]),
            auto_creation=bool(values["auto_creation"]),
            auto_update=bool(values["auto_update"]),
            auto_linking=AutoLinking(values["auto_linking"]),
        ),
        extra=extra,
    )


def read_key_file(path: Path) -> str:
    """A private key file's text, or InvalidArgument on the form's key file field."""
    try:
        too_large = path.stat().st_size > MAX_KEY_FILE
        text = "" if too_large else path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not text"
        raise InvalidArgument(
            "idp.key_file_unreadable", f"cannot read {path}: {reason}", field="key_file"
        ) from None
    if too_large:
        raise InvalidArgument(
            "idp.key_file_too_large", "the file is too large for a key", field="key_file"
        )
    return text


class IdpFormModal(FormModal[T]):
    """The provider form: choosing a kind shows the fields it takes and puts its
    template's scopes in the scopes field. Its stylesheet adds to the form's."""

    CSS_PATH = Path(__file__).with_name("idp_form.tcss")

    def __init__(
        self,
        title: str,
        fields: Sequence[Field],
        submit: Submit[T],
        *,
        kind: IdpType,
        intro: str,
        action: str,
    ) -> None:
        super().__init__(title, fields, submit, action=action, intro=intro)
        self.kind = kind
        self.css_path = list(dict.fromkeys([FORM_CSS, *self.css_path]))

    def on_mount(self) -> None:
        self.show_fields_of(self.kind)

    @on(Select.Changed, "#type")
    def kind_changed(self, event: Select.Changed) -> None:
        if event.value is Select.NULL or event.value == self.kind.value:
            return
        self.kind = IdpType(str(event.value))
        self.query_one("#scopes", Input).value = " ".join(template_of(self.kind).scopes)
        self.show_fields_of(self.kind)

    def show_fields_of(self, kind: IdpType) -> None:
        used = fields_of_kind(kind)
        for name in KIND_FIELDS:
            row = self.query_one(f"#{name}").parent
            if row is not None:
                row.display = name in used
