"""Parsing a blueprint: TOML into specs, with every key, type and input rule checked."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from zitui.blueprint.branding import parse_branding
from zitui.blueprint.idps import parse_idps
from zitui.blueprint.policies import parse_policies
from zitui.blueprint.reading import BlueprintError, Table, describe, quoted
from zitui.blueprint.references import check_references
from zitui.blueprint.specs import (
    APP_KEYS,
    CREDENTIAL_KEYS,
    GRANT_KEYS,
    GRANT_MANAGER_KEYS,
    MACHINE_KEYS,
    ORG_KEYS,
    PROJECT_KEYS,
    SMS_HTTP_KEYS,
    SMS_KEYS,
    SMS_TWILIO_KEYS,
    SMTP_KEYS,
    TOP_KEYS,
    USER_GRANT_KEYS,
    USER_KEYS,
    AppSpec,
    Blueprint,
    GrantManagerSpec,
    GrantSpec,
    MachineSpec,
    OrgSpec,
    ProjectSpec,
    SmsSpec,
    SmtpSpec,
    UserGrantSpec,
    UserSpec,
)
from zitui.blueprint.texts import parse_texts
from zitui.core import oidc_config, sms, validation
from zitui.core.oidc import served
from zitui.core.permissions import roles_for_scope
from zitui.core.projects import role_key
from zitui.core.ssh_keys import parse_public_key
from zitui.errors import InvalidArgument
from zitui.records import AppType, AuthMethod, PrivateLabeling, Scope, TokenType

TLS_MODES = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
APP_TYPES = tuple(t.value for t in AppType)
AUTH_METHODS = tuple(m.value for m in AuthMethod)
TOKEN_TYPES = {"jwt": TokenType.JWT, "opaque": TokenType.BEARER}

# The auth method an app gets when the file names none.
DEFAULT_AUTH_METHOD = {
    AppType.WEB: AuthMethod.BASIC,
    AppType.NATIVE: AuthMethod.NONE,
    AppType.USER_AGENT: AuthMethod.NONE,
    AppType.API: AuthMethod.BASIC,
}


def load(path: Path) -> Blueprint:
    """Read, parse and check a blueprint file; errors name the place (not yet the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError("", f"cannot read the file: {_reason(exc)}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BlueprintError("", f"not valid TOML: {exc}") from exc
    return parse(data, base_dir=path.parent)


def parse(data: dict[str, Any], *, base_dir: Path | None = None) -> Blueprint:
    """The blueprint in `data` (tomllib's output), with every cross-reference inside it checked;
    files it names (logos, icons) are read relative to `base_dir` (default: the working
    directory)."""
    base_dir = base_dir or Path.cwd()
    top = Table(data, "", TOP_KEYS)
    smtp = top.table("smtp", SMTP_KEYS)
    sms_table = top.table("sms", SMS_KEYS)
    blueprint = Blueprint(
        smtp=_smtp(smtp) if smtp else None,
        sms=_sms(sms_table) if sms_table else None,
        orgs=tuple(_org(t, base_dir) for t in top.tables("orgs", ORG_KEYS)),
        texts=parse_texts(top),
        policies=parse_policies(top),
        branding=parse_branding(top, base_dir),
        idps=parse_idps(top),
    )
    check_references(blueprint)
    return blueprint


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _smtp(t: Table) -> SmtpSpec:
    host = _required(t, "host", validation.host)
    tls = t.choice("tls", TLS_MODES, default="starttls")
    return SmtpSpec(
        path=t.path,
        host=host,
        port=t.number("port", default=DEFAULT_PORTS[tls], low=1, high=65535),
        sender=_required(t, "from", lambda value: validation.email(value, required=True)),
        tls=tls,
        user=t.text("user", default=""),
        password=t.text("password", default=""),
    )


def _sms(t: Table) -> SmsSpec:
    """The provider checked by the SMS service's own rules; only its kind's keys are allowed."""
    kind = t.choice("kind", sms.KINDS)
    allowed = SMS_HTTP_KEYS if kind == sms.HTTP else SMS_TWILIO_KEYS
    for key in SMS_KEYS:
        if t.has(key) and key not in allowed:
            raise BlueprintError(
                t.at(key), f"not a key of {kind} providers; expected one of {quoted(allowed)}"
            )
    token_key = "token" if kind == sms.HTTP else "auth_token"
    token = t.text(token_key, default="")
    given = {key: t.text(key, default="") for key in allowed if key not in ("kind", token_key)}
    try:
        config = sms.validated(sms.SmsSettings(kind=kind, token=token or None, **given))
    except InvalidArgument as exc:
        raise _refused_at(t, allowed, exc) from exc
    return SmsSpec(
        path=t.path,
        kind=config.kind,
        url=config.url,
        account_sid=config.account_sid,
        sender=config.sender,
        messaging_service_sid=config.messaging_service_sid,
        base_url=config.base_url,
        token=token,
    )


def _refused_at(t: Table, keys: tuple[str, ...], exc: InvalidArgument) -> BlueprintError:
    """A service's refusal at the file's key it names, with the value the file gave."""
    key = exc.field if exc.field in keys else None
    if key is None:
        return BlueprintError(t.path, exc.message)
    value = t.text(key, default="")
    return BlueprintError(t.at(key), f"{describe(value)}: {exc.message}" if value else exc.message)


def _org(t: Table, base_dir: Path) -> OrgSpec:
    name = _plain_name(t, "name")
    return OrgSpec(
        path=t.path,
        name=name,
        domain=_checked(t, "domain", validation.domain),
        users=tuple(_user(u) for u in t.tables("users", USER_KEYS)),
        machines=tuple(_machine(m) for m in t.tables("machines", MACHINE_KEYS)),
        projects=tuple(_project(p) for p in t.tables("projects", PROJECT_KEYS)),
        user_grants=tuple(_user_grant(g, name) for g in t.tables("user_grants", USER_GRANT_KEYS)),
        texts=parse_texts(t),
        policies=parse_policies(t),
        branding=parse_branding(t, base_dir),
        idps=parse_idps(t),
    )


def _plain_name(t: Table, key: str) -> str:
    """Organisation and project names appear in "Org/Project" references, so no slash."""
    name = t.text(key, name=True)
    if "/" in name:
        raise BlueprintError(t.at(key), f"{describe(name)} contains a slash")
    return name


def _required(t: Table, key: str, rule: Callable[[str], str]) -> str:
    t.text(key, name=True)
    return _checked(t, key, rule)


def _checked(t: Table, key: str, rule: Callable[[str], str]) -> str:
    """A value passed through one of the services' own input rules, refused at its place."""
    value = t.text(key, default="")
    if not value:
        return ""
    try:
        return rule(value)
    except InvalidArgument as exc:
        raise BlueprintError(t.at(key), f"{describe(value)}: {exc.message}") from exc


def _managers(t: Table) -> tuple[str, ...]:
    return _manager_roles(t, "managers", Scope.ORG, "organisation")


def _manager_roles(t: Table, key: str, scope: Scope, level: str) -> tuple[str, ...]:
    roles = t.texts(key)
    allowed = roles_for_scope(scope)
    for index, role in enumerate(roles):
        if role not in allowed:
            raise BlueprintError(
                f"{t.at(key)}[{index}]",
                f"expected {level} roles ({quoted(allowed)}), got {describe(role)}",
            )
    return roles


def _user(t: Table) -> UserSpec:
    return UserSpec(
        path=t.path,
        username=_required(t, "username", validation.username),
        email=_checked(t, "email", validation.email),
        email_verified=t.flag("email_verified"),
        first_name=t.text("first_name", name=True),
        last_name=t.text("last_name", name=True),
        password=t.text("password", default=""),
        password_change_required=t.flag("password_change_required"),
        managers=_managers(t),
        ssh_keys=_ssh_keys(t),
    )


def _ssh_keys(t: Table) -> tuple[str, ...]:
    """Each line a public key OpenSSH would accept (`ssh-ed25519 AAAA… comment`)."""
    lines = t.texts("ssh_keys")
    for index, line in enumerate(lines):
        try:
            parse_public_key(line)
        except InvalidArgument as exc:
            raise BlueprintError(f"{t.at('ssh_keys')}[{index}]", exc.message) from exc
    return lines


def _machine(t: Table) -> MachineSpec:
    username = _required(t, "username", validation.username)
    pat, pat_expires = _credential(t, "pat")
    key, key_expires = _credential(t, "key")
    return MachineSpec(
        path=t.path,
        username=username,
        name=t.text("name", name=True) if t.has("name") else username,
        managers=_managers(t),
        pat=pat,
        secret=t.flag("secret"),
        key=key,
        pat_expires=pat_expires,
        key_expires=key_expires,
    )


def _credential(t: Table, key: str) -> tuple[bool, datetime | None]:
    """`pat = true`, or `pat = { expires = 2027-01-31 }`: whether to make one, and its expiry.

    Whether the expiry lies in the future is checked when the credential is made: a file
    applied again after that date makes nothing and must not be refused for it.
    """
    value = t.switch(key, CREDENTIAL_KEYS)
    if isinstance(value, bool):
        return value, None
    return True, value.moment("expires")


def _project(t: Table) -> ProjectSpec:
    return ProjectSpec(
        path=t.path,
        name=_plain_name(t, "name"),
        roles=_role_keys(t),
        role_assertion=t.flag("role_assertion"),
        role_check=t.flag("role_check"),
        private_labeling_setting=t.choice(
            "private_labeling_setting",
            [setting.value for setting in PrivateLabeling],
            default=PrivateLabeling.UNSPECIFIED.value,
        ),
        grants=tuple(_grant(g) for g in t.tables("grants", GRANT_KEYS)),
        apps=tuple(_app(a) for a in t.tables("apps", APP_KEYS)),
        given=t.given,
    )


def _grant(t: Table) -> GrantSpec:
    return GrantSpec(
        path=t.path,
        org=t.text("org", name=True),
        roles=t.texts("roles"),
        managers=tuple(_grant_manager(m) for m in t.tables("managers", GRANT_MANAGER_KEYS)),
    )


def _grant_manager(t: Table) -> GrantManagerSpec:
    user = t.text("user", name=True)
    if not t.has("roles"):
        raise BlueprintError(t.at("roles"), "required key is missing")
    roles = _manager_roles(t, "roles", Scope.PROJECT_GRANT, "project grant")
    if not roles:
        raise BlueprintError(t.at("roles"), "list at least one role")
    return GrantManagerSpec(path=t.path, user=user, roles=roles)


def _role_keys(t: Table) -> tuple[str, ...]:
    keys = t.texts("roles")
    for index, key in enumerate(keys):
        try:
            role_key(key)
        except InvalidArgument as exc:
            raise BlueprintError(f"{t.at('roles')}[{index}]", exc.message) from exc
    return keys


def _app(t: Table) -> AppSpec:
    name = t.text("name", name=True)
    app_type = AppType(t.choice("type", APP_TYPES))
    default = DEFAULT_AUTH_METHOD[app_type].value
    method = AuthMethod(t.choice("auth_method", AUTH_METHODS, default=default))
    if method not in oidc_config.AUTH_METHODS[app_type]:
        allowed = [m.value for m in AuthMethod if m in oidc_config.AUTH_METHODS[app_type]]
        raise BlueprintError(
            t.at("auth_method"),
            f"{app_type.value} apps use {quoted(allowed)}, got {describe(method.value)}",
        )
    token_type = t.choice("access_token_type", tuple(TOKEN_TYPES), default="opaque")
    config = _oidc_config(
        t,
        oidc_config.OidcConfig(
            app_type=app_type,
            auth_method=method,
            redirect_uris=t.texts("redirect_uris"),
            post_logout_redirect_uris=t.texts("post_logout_redirect_uris"),
            response_types=_flow_types(
                t,
                "response_types",
                served.RESPONSE_TYPES,
                served.UNSERVED_RESPONSE_TYPES,
                default=oidc_config.DEFAULT_RESPONSE_TYPES,
            ),
            grant_types=_flow_types(
                t,
                "grant_types",
                served.APP_GRANT_TYPES,
                served.UNSERVED_GRANT_TYPES,
                default=oidc_config.DEFAULT_GRANT_TYPES,
            ),
            access_token_type=TOKEN_TYPES[token_type],
            id_token_role_assertion=t.flag("id_token_role_assertion"),
            id_token_userinfo_assertion=t.flag("id_token_userinfo_assertion"),
            dev_mode=t.flag("dev_mode"),
        ),
    )
    return AppSpec(
        path=t.path,
        name=name,
        type=app_type,
        auth_method=method,
        redirect_uris=tuple(config.redirect_uris),
        post_logout_redirect_uris=tuple(config.post_logout_redirect_uris),
        response_types=tuple(config.response_types),
        grant_types=tuple(config.grant_types),
        access_token_type=config.access_token_type,
        id_token_role_assertion=config.id_token_role_assertion,
        id_token_userinfo_assertion=config.id_token_userinfo_assertion,
        dev_mode=config.dev_mode,
        given=t.given,
    )


def _flow_types(
    t: Table,
    key: str,
    allowed: tuple[str, ...],
    unserved: tuple[str, ...],
    *,
    default: tuple[str, ...],
) -> tuple[str, ...]:
    """Response or grant types by ZITADEL's names; only the served ones are accepted."""
    if not t.has(key):
        return default
    values = t.texts(key)
    for index, value in enumerate(values):
        if value in unserved:
            raise BlueprintError(
                f"{t.at(key)}[{index}]",
                f"{describe(value)} is not served by zitui; expected one of {quoted(allowed)}",
            )
        if value not in allowed:
            raise BlueprintError(
                f"{t.at(key)}[{index}]",
                f"expected one of {quoted(allowed)}, got {describe(value)}",
            )
    return values


def _oidc_config(t: Table, config: oidc_config.OidcConfig) -> oidc_config.OidcConfig:
    """The app service's own rules (redirect URIs by type and dev mode), run on the file."""
    try:
        return oidc_config.checked(config)
    except InvalidArgument as exc:
        key = "type" if exc.field == "app_type" else exc.field
        raise BlueprintError(t.at(key) if key in APP_KEYS else t.path, exc.message) from exc


def _user_grant(t: Table, org_name: str) -> UserGrantSpec:
    user = t.text("user", name=True)
    reference = t.text("project", name=True)
    owner, slash, project = reference.partition("/")
    if not slash:
        owner, project = "", reference
    owner, project = owner.strip(), project.strip()
    if slash and (not owner or not project or "/" in project):
        raise BlueprintError(
            t.at("project"), f'expected "Project" or "Org/Project", got {describe(reference)}'
        )
    return UserGrantSpec(
        path=t.path,
        user=user,
        owner="" if owner.lower() == org_name.lower() else owner,
        project=project,
        roles=t.texts("roles"),
    )
