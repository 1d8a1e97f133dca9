"""The instance's mail server: set and read it; the password is encrypted under the master key."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.policies import DomainPolicy, from_settings
from zitui.errors import InvalidArgument, PreconditionFailed
from zitui.records import Instance, SmtpConfig
from zitui.store import Repositories, Store
from zitui.store.repos.smtp import StoredSmtp

TLS_MODES = ("none", "starttls", "tls")
PURPOSE = "smtp.password"


@dataclass(frozen=True)
class SmtpSettings:
    """What a manager sets; `password=None` keeps the stored password, "" removes it."""

    host: str
    port: int
    sender: str
    tls: str
    user: str = ""
    password: str | None = None


@dataclass(frozen=True)
class SmtpCredentials:
    """Everything the mailer needs to connect, password decrypted; never leaves the core."""

    config: SmtpConfig
    password: str

    def __repr__(self) -> str:
        return f"SmtpCredentials(config={self.config!r}, password=<hidden>)"


@dataclass(frozen=True)
class DeliveryTarget:
    """Where mail goes now: the SMTP server of the instance settings, or without one
    `.eml` files in `mail_dir` (the embedded default)."""

    mail_dir: Path
    smtp: SmtpConfig | None = None

    def describe(self) -> str:
        """One sentence for operators."""
        if self.smtp is None:
            return f"No SMTP server is configured: mail is written as .eml files to {self.mail_dir}"
        return f"Mail is delivered through SMTP {self.smtp.host}:{self.smtp.port}"


class SmtpService:
    def __init__(
        self, store: Store, authz: Authorizer, master_key: MasterKey, *, mail_dir: Path
    ) -> None:
        self._store = store
        self._authz = authz
        self._master_key = master_key
        self.mail_dir = mail_dir

    async def set_smtp(self, ctx: Context, settings: SmtpSettings) -> SmtpConfig:
        """Create or replace the instance's SMTP configuration.

        With the instance's domain policy `smtp_sender_address_matches_instance_domain` the
        sender must be an address at the instance's domain or at an organisation's verified
        domain; else InvalidArgument("sender.domain_not_allowed").
        """
        await self._authz.require(ctx, "iam.write", Resource.instance())
        config = _validated(settings)
        new_password = self._encrypted(settings.password)
        async with self._store.transaction() as tx:
            instance = await tx.instances.find()
            if instance is None:
                raise PreconditionFailed("instance.missing", "the instance is not set up")
            await _require_sender_domain(tx, instance, config.sender)
            stored = await tx.smtp.find()
            password_enc = new_password if new_password is not None else _kept(stored)
            config = replace(config, has_password=bool(password_enc))
            await tx.smtp.save(
                stored.id if stored else new_id(),
                config,
                password_enc=password_enc,
                at=ctx.now(),
                new=stored is None,
            )
            payload = asdict(config) | {"password_changed": new_password is not None}
            await record(
                tx,
                ctx,
                "instance.smtp.changed",
                aggregate=("instance", instance.id),
                org_id=None,
                payload=payload,
            )
        return config

    async def get_smtp(self, ctx: Context) -> SmtpConfig | None:
        await self._authz.require(ctx, "iam.read", Resource.instance())
        async with self._store.reader() as tx:
            stored = await tx.smtp.find()
        return stored.config if stored else None

    async def delivery_target(self, ctx: Context) -> DeliveryTarget:
        """Where the sender delivers mail with the settings as they are now."""
        config = await self.get_smtp(ctx)
        return DeliveryTarget(mail_dir=self.mail_dir.absolute(), smtp=config)

    def _encrypted(self, password: str | None) -> str | None:
        """The ciphertext to store; None keeps the stored one, "" removes it."""
        if password is None or password == "":
            return password
        return self._master_key.encrypt(password.encode(), purpose=PURPOSE)

    async def smtp_credentials(self) -> SmtpCredentials | None:
        """For the mailer, not for managers: the configuration with the decrypted password."""
        async with self._store.reader() as tx:
            stored = await tx.smtp.find()
        if stored is None:
            return None
        password = (
            self._master_key.decrypt(stored.password_enc, purpose=PURPOSE).decode()
            if stored.password_enc
            else ""
        )
        return SmtpCredentials(config=stored.config, password=password)


async def _require_sender_domain(tx: Repositories, instance: Instance, sender: str) -> None:
    """The domain policy's sender rule (ZITADEL's smtp_sender_address_matches_instance_domain)."""
    policy = from_settings(DomainPolicy, await tx.policies.find("domain"))
    if not policy.smtp_sender_address_matches_instance_domain:
        return
    domain = sender.rpartition("@")[2].lower()
    if domain == instance.domain.lower() or await tx.orgs.find_by_verified_domain(domain):
        return
    raise InvalidArgument(
        "sender.domain_not_allowed",
        f"the sender must be an address at {instance.domain} "
        "or at a verified domain of an organisation",
        field="sender",
    )


def _kept(stored: StoredSmtp | None) -> str:
    return stored.password_enc if stored is not None else ""


def _validated(settings: SmtpSettings) -> SmtpConfig:
    if not isinstance(settings.port, int) or not 1 <= settings.port <= 65535:
        raise InvalidArgument("port.invalid", "the port is a number from 1 to 65535", field="port")
    return SmtpConfig(
        host=validation.host(settings.host),
        port=settings.port,
        sender=validation.email(settings.sender, required=True, field="sender"),
        tls=validation.choice(settings.tls, TLS_MODES, field="tls"),
        user=validation.text(settings.user, field="user", required=False),
        has_password=False,
    )
