"""second factors of users (TOTP now; email, SMS, U2F and passkeys later) and recovery codes

Revision ID: 0012_factors
Revises: 0011_private_labeling
Create Date: 2026-12-06

New tables only; `users` is not touched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_factors"
down_revision = "0011_private_labeling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_factors",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("credential_id", sa.String(length=1400), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("sign_count", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_factors_user_id", "user_factors", ["user_id"], unique=False)
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_recovery_codes_user_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_index("ix_user_factors_user_id", table_name="user_factors")
    op.drop_table("user_factors")
