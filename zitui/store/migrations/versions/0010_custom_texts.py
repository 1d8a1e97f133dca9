"""custom texts: a manager's wording of catalogue keys per language

Revision ID: 0010_custom_texts
Revises: 0009_branding
Create Date: 2026-12-06

`org_id` is empty for the instance's texts, as in `policies`; an organisation's text of a key
goes over the instance's, which goes over the shipped catalogue.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_custom_texts"
down_revision = "0009_branding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_texts",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "language", "key"),
    )


def downgrade() -> None:
    op.drop_table("custom_texts")
