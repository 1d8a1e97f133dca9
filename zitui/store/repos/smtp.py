"""The instance's SMTP configuration."""

from __future__ import annotations

from zitui.store.repos.base import Repository


class SmtpRepository(Repository):
    pass
