"""The mail that tells a user their password was changed (the notification policy's
`password_change`), queued in the transaction of the change."""

from __future__ import annotations

from zitui.core.context import Context
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.notifications.mails import compose, mail_language
from zitui.core.notifications.outbox import enqueue
from zitui.core.policies import NotificationPolicy, from_settings
from zitui.records import User
from zitui.store import Repositories

KIND = "password.changed"


class PasswordNotice:
    def __init__(self, master_key: MasterKey, *, instance_name: str = "zitui") -> None:
        self._master_key = master_key
        self._instance_name = instance_name

    async def password_changed(
        self, tx: Repositories, ctx: Context, user: User, *, language: str = ""
    ) -> str | None:
        """Inside the caller's transaction: the mail's outbox id when the policy of the
        user's organisation asks for it and the user has an address, else None."""
        settings = await tx.policies.find_effective("notification", user.org_id)
        if not from_settings(NotificationPolicy, settings).password_change or not user.email:
            return None
        mail_lang = mail_language(user.preferred_language, language)
        mail = compose(
            KIND,
            language=mail_lang,
            recipient=user.email,
            display_name=user.display_name,
            instance_name=self._instance_name,
            user_id=user.id,
            org_id=user.org_id,
            texts=await tx.custom_texts.effective(user.org_id, mail_lang),
        )
        return await enqueue(tx, self._master_key, mail, at=ctx.now())
