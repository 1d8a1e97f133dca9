"""the address a browser session was last signed in from, for the account's session list

Revision ID: 0015_account
Revises: 0014_webauthn
Create Date: 2026-12-06

One column on `sessions`, added in place (no batch copy). A pending WebAuthn registration of
the account API needs no table: it is a `user_codes` row of its own purpose (one per user,
expiring, deleted when spent), see `zitui/core/account_factors.py`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_account"
down_revision = "0014_webauthn"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("client_ip", sa.String(length=64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("sessions", "client_ip")
