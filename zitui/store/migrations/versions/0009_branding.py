"""branding: colours, font and switches per organisation, and its logos and icons

Revision ID: 0009_branding
Revises: 0008_user_codes
Create Date: 2026-12-06

`org_id` is empty for the instance default, as in `policies`. Assets are small images (size
limited by core) kept in the database, so several processes on one database serve the same bytes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_branding"
down_revision = "0008_user_codes"
branch_labels = None
depends_on = None

_COLOURS = ("primary", "background", "warning", "font")


def upgrade() -> None:
    colour_columns = [
        sa.Column(f"{name}_color{suffix}", sa.String(length=7), nullable=False)
        for suffix in ("", "_dark")
        for name in _COLOURS
    ]
    op.create_table(
        "branding",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        *colour_columns,
        sa.Column("font_family", sa.String(length=200), nullable=False),
        sa.Column("hide_login_name_suffix", sa.Boolean(), nullable=False),
        sa.Column("disable_watermark", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "branding_assets",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "kind"),
    )


def downgrade() -> None:
    op.drop_table("branding_assets")
    op.drop_table("branding")
