"""projects: whose branding, texts and legal links their logins show

Revision ID: 0011_private_labeling
Revises: 0010_custom_texts
Create Date: 2026-12-06

ZITADEL's private_labeling_setting; existing projects keep the instance's (`unspecified`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_private_labeling"
down_revision = "0010_custom_texts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0008_user_codes: a batch copy of a table loses the expression
    # indexes SQLite's reflection cannot read back.
    op.add_column(
        "projects",
        sa.Column(
            "private_labeling_setting",
            sa.String(length=40),
            nullable=False,
            server_default="unspecified",
        ),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE projects DROP COLUMN private_labeling_setting")
