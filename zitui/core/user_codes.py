"""One-time codes sent to users: initialisation, email verification and password reset by
mail, and the one-time passwords of the second factors by email and by SMS (otp_factors.py).

A code is made, mailed (through the outbox, in the caller's transaction) and stored in one
step, `CodeMailer.send`; a new code for the same purpose replaces the old one, which stops
working. The store keeps an HMAC of the code under a key derived from the master key, bound to
the user and the purpose, and the address it went to: a copy of the database alone does not
give the codes away (six characters would fall to a plain hash in seconds), and a code stops
working when the address changes.

Checking a code (`CodeMailer.check`) counts a wrong one against the user
(`users.failed_code_attempts`); the lockout policy's `max_otp_attempts` locks the user when the
count reaches it, as ZITADEL counts one-time passwords. Every code proves the same thing: the
holder reads the mailbox the code was sent to.

The lengths, alphabets and lifetimes are ZITADEL's generator defaults.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.notifications.mails import compose, mail_language
from zitui.core.notifications.outbox import enqueue
from zitui.core.otp_failures import count_code_failure
from zitui.errors import InvalidArgument, PreconditionFailed
from zitui.records import User
from zitui.store import Repositories

UPPER_AND_DIGITS = string.ascii_uppercase + string.digits

# Where the links in the mails lead (the hosted login's pages; ZITADEL's v1 paths).
VERIFY_EMAIL_PATH = "/ui/login/mail/verification"
PASSWORD_INIT_PATH = "/ui/login/password/init"
USER_INIT_PATH = "/ui/login/user/init"


class Purpose(StrEnum):
    INIT = "init"
    EMAIL = "email"
    RESET = "reset"
    OTP_EMAIL = "otp_email"
    OTP_SMS = "otp_sms"
    PHONE = "phone"


@dataclass(frozen=True)
class CodeRule:
    length: int
    alphabet: str
    lifetime: timedelta
    mail_kind: str
    path: str
    event: str


RULES: dict[Purpose, CodeRule] = {
    Purpose.INIT: CodeRule(
        6,
        UPPER_AND_DIGITS,
        timedelta(hours=72),
        "user.init",
        USER_INIT_PATH,
        "user.human.initialization.code.added",
    ),
    Purpose.EMAIL: CodeRule(
        6,
        UPPER_AND_DIGITS,
        timedelta(hours=1),
        "email.verify",
        VERIFY_EMAIL_PATH,
        "user.human.email.code.added",
    ),
    Purpose.RESET: CodeRule(
        6,
        UPPER_AND_DIGITS,
        timedelta(hours=1),
        "password.reset",
        PASSWORD_INIT_PATH,
        "user.human.password.code.added",
    ),
    # ZITADEL's OTPEmail and OTPSMS generators; these messages carry no link.
    Purpose.OTP_EMAIL: CodeRule(
        8,
        string.digits,
        timedelta(minutes=5),
        "otp.email",
        "",
        "user.human.otp.email.code.added",
    ),
    Purpose.OTP_SMS: CodeRule(
        8,
        string.digits,
        timedelta(minutes=5),
        "otp.sms",
        "",
        "user.human.otp.sms.code.added",
    ),
    # ZITADEL's PhoneVerificationCode, sent by SMS (`otp_factors.send_sms_code`).
    Purpose.PHONE: CodeRule(
        6,
        UPPER_AND_DIGITS,
        timedelta(hours=1),
        "phone.verify",
        "",
        "user.human.phone.code.added",
    ),
}


def normalised(code: str) -> str:
    """What a person may type for a code: any case, with spaces or dashes in it."""
    return "".join(c for c in code.upper() if c not in " -\t")[:64]


@dataclass(frozen=True)
class SentCode:
    """A code that went to the outbox: its message (the page may show how delivery goes)."""

    message_id: str
    recipient: str
    expires_at: datetime


class CodeMailer:
    def __init__(self, master_key: MasterKey, *, base_url: str, instance_name: str = "zitui"):
        self._master_key = master_key
        self._key = master_key.derive("user-codes")
        self._base_url = base_url.rstrip("/")
        self._instance_name = instance_name

    def digest(self, user_id: str, purpose: Purpose, code: str) -> str:
        message = f"{purpose.value}\0{user_id}\0{normalised(code)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def link(self, purpose: Purpose, user_id: str, code: str, *, flow_id: str = "") -> str:
        query = {"userID": user_id, "code": code}
        if flow_id:
            query["flow"] = flow_id
        return f"{self._base_url}{RULES[purpose].path}?{urlencode(query)}"

    async def send(
        self,
        tx: Repositories,
        ctx: Context,
        user: User,
        purpose: Purpose,
        *,
        language: str = "",
        flow_id: str = "",
        to: str = "",
    ) -> SentCode:
        """Inside the caller's transaction: a new code for `purpose`, mailed to `to` (the
        user's email by default), and its event. The previous code of the purpose is gone."""
        recipient = to or user.email
        if not recipient:
            raise PreconditionFailed("user.email.missing", "this user has no email address")
        rule = RULES[purpose]
        now = ctx.now()
        code = tokens.code(rule.length, rule.alphabet)
        expires_at = now + rule.lifetime
        mail_lang = mail_language(user.preferred_language, language)
        mail = compose(
            rule.mail_kind,
            language=mail_lang,
            recipient=recipient,
            display_name=user.display_name,
            code=code,
            link=self.link(purpose, user.id, code, flow_id=flow_id) if rule.path else "",
            instance_name=self._instance_name,
            expires_in_minutes=int(rule.lifetime.total_seconds() // 60),
            user_id=user.id,
            org_id=user.org_id,
            texts=await tx.custom_texts.effective(user.org_id, mail_lang),
        )
        message_id = await enqueue(tx, self._master_key, mail, at=now)
        await self._store(tx, ctx, user, purpose, code, recipient.lower(), message_id)
        return SentCode(message_id=message_id, recipient=recipient, expires_at=expires_at)

    def new_code(self, purpose: Purpose) -> str:
        """A fresh code of the length and alphabet of `purpose`."""
        rule = RULES[purpose]
        return tokens.code(rule.length, rule.alphabet)

    async def store_sent(
        self,
        tx: Repositories,
        ctx: Context,
        user: User,
        purpose: Purpose,
        code: str,
        *,
        target: str,
        message_id: str,
    ) -> datetime:
        """Inside the caller's transaction: keep a code the caller sent another way (an SMS
        to the number `target`) in place of the one before, and its event; its expiry."""
        return await self._store(tx, ctx, user, purpose, code, target, message_id)

    async def store_unsent(
        self, tx: Repositories, ctx: Context, user: User, purpose: Purpose
    ) -> tuple[str, datetime]:
        """Inside the caller's transaction: a new code for a user without an email address,
        returned (with its expiry) for a manager to hand over instead of mailed."""
        rule = RULES[purpose]
        code = tokens.code(rule.length, rule.alphabet)
        expires_at = await self._store(tx, ctx, user, purpose, code, "", None)
        return code, expires_at

    async def _store(
        self,
        tx: Repositories,
        ctx: Context,
        user: User,
        purpose: Purpose,
        code: str,
        target: str,
        message_id: str | None,
    ) -> datetime:
        """The code's digest in place of the one before, and its event; its expiry."""
        rule = RULES[purpose]
        expires_at = ctx.now() + rule.lifetime
        await tx.user_codes.put(
            user.id,
            purpose.value,
            digest=self.digest(user.id, purpose, code),
            target=target,
            at=ctx.now(),
            expires_at=expires_at,
            message_id=message_id,
        )
        payload: dict[str, object] = {"expires_at": expires_at.isoformat()}
        payload.update({"message_id": message_id} if message_id else {"mailed": False})
        await record(
            tx, ctx, rule.event, aggregate=("user", user.id), org_id=user.org_id, payload=payload
        )
        return expires_at

    async def spend(
        self, tx: Repositories, ctx: Context, user: User, purpose: Purpose, code: str
    ) -> bool:
        """Inside the caller's transaction: spend the user's code for `purpose`; False for a
        wrong, expired or replaced code (or one a concurrent request spent first).

        On False the caller writes nothing else but `count_failure`, in the same transaction.
        """
        stored = await tx.user_codes.find(user.id, purpose.value)
        given = self.digest(user.id, purpose, code)
        valid = (
            stored is not None
            and tokens.equal(stored.digest, given)
            and stored.expires_at > ctx.now()
            and tokens.equal(stored.target, current_target(user, purpose) or stored.target)
        )
        if not valid or not await tx.user_codes.delete(user.id, purpose.value):
            return False
        await tx.users.reset_code_failures(user.id)
        return True

    async def count_failure(self, tx: Repositories, ctx: Context, user: User) -> bool:
        """Count a wrong code; True when it locked the user (the lockout policy's
        `max_otp_attempts`), which ends their sessions and tokens."""
        return await count_code_failure(tx, ctx, user)


def current_target(user: User, purpose: Purpose) -> str:
    """Where a code of `purpose` goes now; a code sent elsewhere does not count."""
    return user.phone if purpose in (Purpose.OTP_SMS, Purpose.PHONE) else user.email.lower()


def wrong_code(field: str = "code") -> InvalidArgument:
    return InvalidArgument("code.invalid", "the code is wrong or has expired", field=field)
