"""one-time codes sent to users, the terms a user accepted, failed code attempts

Revision ID: 0008_user_codes
Revises: 0007_sms_providers
Create Date: 2026-12-06

The initialisation code moves from two columns of `users` (which nothing ever accepted) into
`user_codes`, with the codes of email verification and password reset; codes issued under the
old columns are dropped with them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_user_codes"
down_revision = "0007_sms_providers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_codes",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "purpose"),
    )
    with op.batch_alter_table("user_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_codes_expires_at"), ["expires_at"], unique=False)
    # Plain ALTER TABLE (SQLite 3.35+ drops columns itself): a batch copy of `users` would
    # lose its expression indexes, which SQLite's reflection cannot read back.
    op.add_column(
        "users", sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "users",
        sa.Column("failed_code_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute("ALTER TABLE users DROP COLUMN init_code_expires_at")
    op.execute("ALTER TABLE users DROP COLUMN init_code_digest")


def downgrade() -> None:
    op.add_column("users", sa.Column("init_code_digest", sa.String(length=64), nullable=True))
    op.add_column(
        "users", sa.Column("init_code_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("ALTER TABLE users DROP COLUMN failed_code_attempts")
    op.execute("ALTER TABLE users DROP COLUMN terms_accepted_at")
    with op.batch_alter_table("user_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_codes_expires_at"))
    op.drop_table("user_codes")
