"""The instance's SMS provider: set, read and remove it; its token is encrypted under the
master key and never leaves the core except to the sender."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import SmsConfig
from zitui.store import Store
from zitui.store.repos.sms import StoredSms

HTTP, TWILIO = "http", "twilio"
KINDS = (HTTP, TWILIO)
TWILIO_BASE_URL = "https://api.twilio.com"
PURPOSE = "sms.token"
MAX_URL = 2000
_SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


@dataclass(frozen=True)
class SmsSettings:
    """What a manager sets. `token` is the bearer token (http) or the auth token (twilio):
    None keeps the stored one while the kind stays the same, "" removes it.

    http: `url`, optional `token`. twilio: `account_sid`, `token`, one of `sender` (a phone
    number) or `messaging_service_sid`, and `base_url` (Twilio's own API by default).
    """

    kind: str
    url: str = ""
    token: str | None = None
    account_sid: str = ""
    sender: str = ""
    messaging_service_sid: str = ""
    base_url: str = ""

    def __repr__(self) -> str:
        return f"SmsSettings(kind={self.kind!r}, url={self.url!r}, token=<hidden>)"


@dataclass(frozen=True)
class SmsCredentials:
    """Everything the sender needs to reach the provider, token decrypted; never leaves the
    core."""

    config: SmsConfig
    token: str

    def __repr__(self) -> str:
        return f"SmsCredentials(config={self.config!r}, token=<hidden>)"


class SmsService:
    def __init__(self, store: Store, authz: Authorizer, master_key: MasterKey) -> None:
        self._store = store
        self._authz = authz
        self._master_key = master_key

    async def set_sms(self, ctx: Context, settings: SmsSettings) -> SmsConfig:
        """Create or replace the instance's SMS provider; the new configuration."""
        await self._authz.require(ctx, "iam.write", Resource.instance())
        config = validated(settings)
        new_token = self._encrypted(settings.token)
        async with self._store.transaction() as tx:
            instance = await tx.instances.find()
            if instance is None:
                raise PreconditionFailed("instance.missing", "the instance is not set up")
            stored = await tx.sms.find()
            token_enc = new_token if new_token is not None else _kept(stored, kind=config.kind)
            _require_token(config, token_enc)
            config = _with_token(config, token_enc)
            await tx.sms.save(
                stored.id if stored else new_id(),
                config,
                token_enc=token_enc,
                at=ctx.now(),
                new=stored is None,
            )
            token_changed = token_enc != (stored.token_enc if stored else "")
            await record(
                tx,
                ctx,
                "instance.sms.config.changed",
                aggregate=("instance", instance.id),
                org_id=None,
                payload=asdict(config) | {"token_changed": token_changed},
            )
        return config

    async def get_sms(self, ctx: Context) -> SmsConfig | None:
        """The SMS provider, without its token; None when none is set."""
        await self._authz.require(ctx, "iam.read", Resource.instance())
        async with self._store.reader() as tx:
            stored = await tx.sms.find()
        return stored.config if stored else None

    async def remove_sms(self, ctx: Context) -> None:
        """Remove the SMS provider; messages then wait with "no SMS provider is configured"."""
        await self._authz.require(ctx, "iam.write", Resource.instance())
        async with self._store.transaction() as tx:
            instance = await tx.instances.find()
            stored = await tx.sms.find()
            if instance is None or stored is None:
                raise NotFound("sms.not_found", "no SMS provider is configured")
            await tx.sms.remove(stored.id)
            await record(
                tx,
                ctx,
                "instance.sms.config.removed",
                aggregate=("instance", instance.id),
                org_id=None,
                payload={"kind": stored.config.kind},
            )

    async def sms_credentials(self) -> SmsCredentials | None:
        """For the sender, not for managers: the provider with its decrypted token."""
        async with self._store.reader() as tx:
            stored = await tx.sms.find()
        if stored is None:
            return None
        token = (
            self._master_key.decrypt(stored.token_enc, purpose=PURPOSE).decode()
            if stored.token_enc
            else ""
        )
        return SmsCredentials(config=stored.config, token=token)

    def _encrypted(self, token: str | None) -> str | None:
        """The ciphertext to store; None keeps the stored one, "" removes it."""
        if token is None or token == "":
            return token
        return self._master_key.encrypt(_token(token).encode(), purpose=PURPOSE)


def validated(settings: SmsSettings) -> SmsConfig:
    """The configuration `settings` describe, checked and normalised; `has_token` is False."""
    kind = validation.choice(settings.kind, KINDS, field="kind")
    if kind == HTTP:
        _unexpected(settings, ("account_sid", "sender", "messaging_service_sid", "base_url"))
        return SmsConfig(
            kind=HTTP,
            url=url(settings.url, field="url"),
            account_sid="",
            sender="",
            messaging_service_sid="",
            base_url="",
            has_token=False,
        )
    _unexpected(settings, ("url",))
    sender, service = _sender(settings.sender, settings.messaging_service_sid)
    return SmsConfig(
        kind=TWILIO,
        url="",
        account_sid=_sid(settings.account_sid, field="account_sid"),
        sender=sender,
        messaging_service_sid=service,
        base_url=url(settings.base_url or TWILIO_BASE_URL, field="base_url").rstrip("/"),
        has_token=False,
    )


def url(value: str, *, field: str) -> str:
    """An absolute http(s) URL without user info or fragment; secrets go in the token."""
    value = value.strip()
    if not value:
        raise InvalidArgument(
            f"{field}.required", f"{field.replace('_', ' ')} is required", field=field
        )
    if len(value) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidArgument(f"{field}.invalid", "this is not a URL", field=field)
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidArgument(f"{field}.invalid", "this is not a URL", field=field) from exc
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidArgument(
            f"{field}.invalid", "use an http:// or https:// URL with a host", field=field
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(
            f"{field}.credentials", "put credentials in the token, not in the URL", field=field
        )
    if parts.fragment:
        raise InvalidArgument(f"{field}.invalid", "a URL here has no #fragment", field=field)
    return value


def _sender(sender: str, service: str) -> tuple[str, str]:
    """The sender number or the messaging service: exactly one of them."""
    if sender.strip() and service.strip():
        raise InvalidArgument(
            "messaging_service_sid.conflict",
            "give a sender number or a messaging service sid, not both",
            field="messaging_service_sid",
        )
    if service.strip():
        return "", _sid(service, field="messaging_service_sid")
    if not sender.strip():
        raise InvalidArgument(
            "sender.required", "give a sender number or a messaging service sid", field="sender"
        )
    try:
        return validation.phone(sender), ""
    except InvalidArgument as exc:
        raise InvalidArgument("sender.invalid", exc.message, field="sender") from exc


def _sid(value: str, *, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidArgument(
            f"{field}.required", f"{field.replace('_', ' ')} is required", field=field
        )
    if not _SID.match(value):
        raise InvalidArgument(
            f"{field}.invalid", "use letters and digits only (up to 64)", field=field
        )
    return value


def _token(value: str) -> str:
    if len(value) > 4096 or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidArgument(
            "token.invalid", "the token has spaces or control characters", field="token"
        )
    return value


def _unexpected(settings: SmsSettings, fields: tuple[str, ...]) -> None:
    for name in fields:
        if getattr(settings, name).strip():
            raise InvalidArgument(
                f"{name}.unexpected",
                f"{name.replace('_', ' ')} belongs to another kind of provider",
                field=name,
            )


def _kept(stored: StoredSms | None, *, kind: str) -> str:
    """The stored token, kept only with its kind: a bearer token is no Twilio auth token."""
    return stored.token_enc if stored is not None and stored.config.kind == kind else ""


def _require_token(config: SmsConfig, token_enc: str) -> None:
    if config.kind == TWILIO and not token_enc:
        raise InvalidArgument(
            "token.required", "a Twilio-compatible provider needs its auth token", field="token"
        )


def _with_token(config: SmsConfig, token_enc: str) -> SmsConfig:
    return SmsConfig(**(asdict(config) | {"has_token": bool(token_enc)}))
