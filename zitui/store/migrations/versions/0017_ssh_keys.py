"""users' SSH public keys, for signing in to the operator console over SSH

Revision ID: 0017_ssh_keys
Revises: 0016_idps
Create Date: 2026-12-06

A table of its own rather than a kind in `user_factors`: an SSH key is a first factor (it
replaces the password at the console's door), while every ready row of `user_factors` is a
second factor that the login flows count, offer and ask for (and whose last removal voids
the recovery codes). Keeping SSH keys apart keeps those rules true without a filter at each
place they are read. The SHA-256 fingerprint is unique across the instance: one key belongs
to one user, so a key names its user.

New table only; nothing else is touched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_ssh_keys"
down_revision = "0016_idps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_ssh_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=60), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=60), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_ssh_keys_user_id", "user_ssh_keys", ["user_id"], unique=False)
    op.create_index("ix_user_ssh_keys_fingerprint", "user_ssh_keys", ["fingerprint"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_user_ssh_keys_fingerprint", table_name="user_ssh_keys")
    op.drop_index("ix_user_ssh_keys_user_id", table_name="user_ssh_keys")
    op.drop_table("user_ssh_keys")
