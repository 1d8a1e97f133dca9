"""when a user last skipped the MFA set-up prompt of the login flow

Revision ID: 0013_mfa_skip
Revises: 0012_factors
Create Date: 2026-12-06

One nullable column on `users`, added in place (no batch copy of the table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_mfa_skip"
down_revision = "0012_factors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("mfa_init_skipped_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("users", "mfa_init_skipped_at")
