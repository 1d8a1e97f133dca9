"""external identity providers, users' links to them, and a session's external sign-in

Revision ID: 0016_idps
Revises: 0015_account
Create Date: 2026-12-06

Two new tables; two columns on `sessions` added in place (no batch copy).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_idps"
down_revision = "0015_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=400), nullable=False),
        sa.Column("client_secret_enc", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=2000), nullable=False),
        sa.Column("authorization_endpoint", sa.String(length=2000), nullable=False),
        sa.Column("token_endpoint", sa.String(length=2000), nullable=False),
        sa.Column("userinfo_endpoint", sa.String(length=2000), nullable=False),
        sa.Column("jwks_uri", sa.String(length=2000), nullable=False),
        sa.Column("id_attribute", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("use_pkce", sa.Boolean(), nullable=False),
        sa.Column("id_token_mapping", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_providers_org_id", "identity_providers", ["org_id"], unique=False)
    op.create_table(
        "user_idp_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("idp_id", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=400), nullable=False),
        sa.Column("external_name", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["idp_id"], ["identity_providers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idp_id", "external_id", name="uq_user_idp_links_external"),
    )
    op.create_index("ix_user_idp_links_user_id", "user_idp_links", ["user_id"], unique=False)
    op.create_index("ix_user_idp_links_idp_id", "user_idp_links", ["idp_id"], unique=False)
    op.add_column(
        "sessions",
        sa.Column("external_checked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "sessions",
        sa.Column("idp_id", sa.String(length=40), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("sessions", "idp_id")
    op.drop_column("sessions", "external_checked_at")
    op.drop_index("ix_user_idp_links_idp_id", table_name="user_idp_links")
    op.drop_index("ix_user_idp_links_user_id", table_name="user_idp_links")
    op.drop_table("user_idp_links")
    op.drop_index("ix_identity_providers_org_id", table_name="identity_providers")
    op.drop_table("identity_providers")
