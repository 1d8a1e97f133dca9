"""What a change hands to the outbox: an outgoing mail (built by mails.compose or by hand)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingMail:
    """One mail to write to the outbox; `text` and `html` are its two alternative bodies."""

    kind: str
    recipient: str
    subject: str
    text: str
    html: str
    language: str = "en"
    user_id: str | None = None
    org_id: str | None = None

    def __repr__(self) -> str:
        return f"OutgoingMail(kind={self.kind!r}, recipient={self.recipient!r}, bodies=<hidden>)"
