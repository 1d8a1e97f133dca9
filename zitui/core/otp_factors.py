"""One-time passwords by email and by SMS as second factors (ZITADEL's OTPEmail and OTPSMS).

A factor of either kind holds no secret: it says the user accepts codes at their verified
address or number. It is ready at once, one of each kind per user. Each sign-in sends a fresh
code of eight digits, valid for five minutes, through the outbox; a new code replaces the one
before. The code is kept as a keyed digest bound to where it went (`user_codes.CodeMailer`),
so a changed address or number voids it, and it works once.

Wrong codes count against the user with every other one-time code
(`otp_failures.count_code_failure`, the lockout policy's `max_otp_attempts`). A user who is no
longer active (locked by those codes, say) passes no code and is not counted further.

As `FactorService`, these methods run inside the caller's transaction and check no
permission: the login flow or the account page decides whose factors they are.
"""

from __future__ import annotations

import itertools

from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.factors import Factor, FactorKind
from zitui.core.ids import new_id
from zitui.core.notifications.mails import mail_language
from zitui.core.notifications.outbox import OutgoingSms, enqueue_sms
from zitui.core.otp_failures import count_code_failure
from zitui.core.user_base import load_human
from zitui.core.user_codes import RULES, CodeMailer, Purpose, SentCode
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.i18n import translate
from zitui.records import User, UserState
from zitui.store import Repositories
from zitui.store.repos.factors import READY, StoredFactor

# The SMS text in the catalogues; placeholders {code}, {instance}, {minutes}.
SMS_TEXT_KEY = "sms.otp.sms.text"
SMS_TEXT_KEYS = {Purpose.PHONE: "sms.phone.verify.text"}
MASK = "•"

_PURPOSES = {FactorKind.OTP_EMAIL: Purpose.OTP_EMAIL, FactorKind.OTP_SMS: Purpose.OTP_SMS}
_NAMES = {FactorKind.OTP_EMAIL: "Email", FactorKind.OTP_SMS: "SMS"}
# ZITADEL's event names, after `user.human.otp.email` / `user.human.otp.sms`.
_EVENT_PREFIX = {
    FactorKind.OTP_EMAIL: "user.human.otp.email",
    FactorKind.OTP_SMS: "user.human.otp.sms",
}


class OtpFactors:
    def __init__(
        self, master_key: MasterKey, codes: CodeMailer, *, instance_name: str = "zitui"
    ) -> None:
        self._master_key = master_key
        self._codes = codes
        self._instance_name = instance_name

    async def add(self, tx: Repositories, ctx: Context, user: User, kind: FactorKind) -> Factor:
        """A ready factor of `kind` (otp_email or otp_sms) for the user, whose address or
        number must be verified; one of each kind per user."""
        _purpose(kind)
        current = await load_human(tx, user.id)
        _require_verified(current, kind)
        if await _ready_factor(tx, current.id, kind) is not None:
            raise PreconditionFailed("factor.already_exists", f"this user has an {kind} factor")
        factor_id = new_id()
        now = ctx.now()
        # Pending for one statement: the repository makes factors ready from pending only.
        await tx.factors.insert_pending(factor_id, current.id, kind.value, secret_enc=None, at=now)
        await tx.factors.make_ready(factor_id, name=_NAMES[kind], step=None)
        await record(
            tx,
            ctx,
            f"{_EVENT_PREFIX[kind]}.added",
            aggregate=("user", current.id),
            org_id=current.org_id,
            payload={"factor_id": factor_id},
        )
        return Factor(
            id=factor_id,
            user_id=current.id,
            kind=kind,
            name=_NAMES[kind],
            ready=True,
            created_at=now,
            last_used_at=None,
        )

    async def send_code(
        self, tx: Repositories, ctx: Context, user: User, kind: FactorKind, *, language: str = ""
    ) -> SentCode:
        """A new code for the user's ready factor of `kind`, by mail or SMS through the outbox,
        in place of the one before; in the user's preferred language, else `language`."""
        purpose = _purpose(kind)
        current = await load_human(tx, user.id)
        if current.state is not UserState.ACTIVE:
            raise PreconditionFailed("user.not_active", "this user is locked or deactivated")
        if await _ready_factor(tx, current.id, kind) is None:
            raise _factor_not_found()
        _require_verified(current, kind)
        if kind is FactorKind.OTP_EMAIL:
            return await self._codes.send(tx, ctx, current, purpose, language=language)
        return await self._send_sms(tx, ctx, current, language)

    async def check_code(
        self, tx: Repositories, ctx: Context, user: User, kind: FactorKind, code: str
    ) -> bool:
        """Spend the code of the user's factor of `kind`. False for a wrong, expired or
        replaced code, or one sent to an address or number the user no longer has verified
        (each counted against the user), and for a user who is not active (not counted)."""
        purpose = _purpose(kind)
        current = await load_human(tx, user.id)
        factor = await _ready_factor(tx, current.id, kind)
        if factor is None:
            raise _factor_not_found()
        if current.state is not UserState.ACTIVE:
            return False  # locked by wrong codes, or deactivated: no code works
        event = _EVENT_PREFIX[kind]
        if not _verified(current, kind) or not await self._codes.spend(
            tx, ctx, current, purpose, code
        ):
            await count_code_failure(tx, ctx, current, event=f"{event}.check.failed")
            return False
        await tx.factors.mark_used(factor.id, ctx.now())
        await record(
            tx,
            ctx,
            f"{event}.check.succeeded",
            aggregate=("user", current.id),
            org_id=current.org_id,
            payload={"factor_id": factor.id},
        )
        return True

    async def _send_sms(
        self, tx: Repositories, ctx: Context, user: User, language: str
    ) -> SentCode:
        return await self.send_sms_code(tx, ctx, user, Purpose.OTP_SMS, language=language)

    async def send_sms_code(
        self, tx: Repositories, ctx: Context, user: User, purpose: Purpose, *, language: str = ""
    ) -> SentCode:
        """Inside the caller's transaction: a new code of `purpose` by SMS to the user's
        number through the outbox (its text `sms.<kind>.text`), in place of the one before."""
        rule = RULES[purpose]
        code = self._codes.new_code(purpose)
        sms_lang = mail_language(user.preferred_language, language)
        text = translate(
            sms_lang,
            SMS_TEXT_KEYS.get(purpose, SMS_TEXT_KEY),
            texts=await tx.custom_texts.effective(user.org_id, sms_lang),
            code=code,
            instance=self._instance_name,
            minutes=int(rule.lifetime.total_seconds() // 60),
        )
        sms = OutgoingSms(
            kind=rule.mail_kind,
            recipient=user.phone,
            text=text,
            language=sms_lang,
            user_id=user.id,
            org_id=user.org_id,
        )
        message_id = await enqueue_sms(tx, self._master_key, sms, at=ctx.now())
        expires_at = await self._codes.store_sent(
            tx, ctx, user, purpose, code, target=user.phone, message_id=message_id
        )
        return SentCode(message_id=message_id, recipient=user.phone, expires_at=expires_at)

    @staticmethod
    def masked_target(user: User, kind: FactorKind) -> str:
        """What a page shows of where the code went (`masked_target` below)."""
        return masked_target(user, kind)


def masked_target(user: User, kind: FactorKind) -> str:
    """What a page shows of where the code of `kind` goes: `r•••@example.org`,
    `+41 •• ••• •• 67`; empty when the user has no address or number."""
    if kind is FactorKind.OTP_SMS:
        return _masked_phone(user.phone)
    local, at, domain = user.email.partition("@")
    if not local or not at:
        return ""
    return f"{local[0]}{MASK * 3}@{domain}"


def _masked_phone(phone: str) -> str:
    """The country part and the last two digits; the rest as groups of dots."""
    digits = phone.removeprefix("+")
    if len(digits) < 5:
        return MASK * len(phone)
    head = phone[: len(phone) - len(digits) + 2]
    hidden = len(digits) - 4
    sizes = itertools.chain((2, 3), itertools.repeat(2))
    groups = []
    while hidden > 0:
        size = min(next(sizes), hidden)
        groups.append(MASK * size)
        hidden -= size
    return " ".join([head, *groups, digits[-2:]])


def _purpose(kind: FactorKind) -> Purpose:
    purpose = _PURPOSES.get(kind)
    if purpose is None:
        raise InvalidArgument(
            "factor.kind.invalid", "one-time passwords go by otp_email or otp_sms", field="kind"
        )
    return purpose


def _verified(user: User, kind: FactorKind) -> bool:
    if kind is FactorKind.OTP_SMS:
        return bool(user.phone) and user.phone_verified
    return bool(user.email) and user.email_verified


def _require_verified(user: User, kind: FactorKind) -> None:
    if _verified(user, kind):
        return
    if kind is FactorKind.OTP_SMS:
        raise PreconditionFailed("otp.phone.not_verified", "the phone number is not verified")
    raise PreconditionFailed("otp.email.not_verified", "the email address is not verified")


async def _ready_factor(tx: Repositories, user_id: str, kind: FactorKind) -> StoredFactor | None:
    for stored in await tx.factors.list_for_user(user_id, state=READY):
        if stored.kind == kind.value:
            return stored
    return None


def _factor_not_found() -> NotFound:
    return NotFound("factor.not_found", "no such factor")
