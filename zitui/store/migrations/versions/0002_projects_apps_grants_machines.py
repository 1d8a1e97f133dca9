"""projects apps grants machines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smtp_configs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("tls", sa.String(length=10), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("role_assertion", sa.Boolean(), nullable=False),
        sa.Column("role_check", sa.Boolean(), nullable=False),
        sa.Column("has_project_check", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name", name="uq_projects_org_name"),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_org_id"), ["org_id"], unique=False)

    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("app_type", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("client_secret_digest", sa.String(length=64), nullable=True),
        sa.Column("auth_method", sa.String(length=30), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("response_types", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("access_token_type", sa.String(length=10), nullable=False),
        sa.Column("access_token_role_assertion", sa.Boolean(), nullable=False),
        sa.Column("id_token_role_assertion", sa.Boolean(), nullable=False),
        sa.Column("id_token_userinfo_assertion", sa.Boolean(), nullable=False),
        sa.Column("clock_skew_s", sa.Integer(), nullable=False),
        sa.Column("dev_mode", sa.Boolean(), nullable=False),
        sa.Column("additional_origins", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
        sa.UniqueConstraint("project_id", "name", name="uq_apps_project_name"),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_project_id"), ["project_id"], unique=False)

    op.create_table(
        "machine_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("machine_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_machine_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("personal_access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_access_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "project_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("granted_org_id", sa.String(length=40), nullable=False),
        sa.Column("role_keys", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["granted_org_id"], ["orgs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "granted_org_id", name="uq_project_grants_org"),
    )
    with op.batch_alter_table("project_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_grants_granted_org_id"), ["granted_org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_project_grants_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "project_roles",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "key"),
    )
    op.create_table(
        "user_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("project_grant_id", sa.String(length=40), nullable=True),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("role_keys", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_grant_id"], ["project_grants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "project_id", name="uq_user_grants_user_project"),
    )
    with op.batch_alter_table("user_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_grants_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_user_grants_project_grant_id"), ["project_grant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_grants_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_grants_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("org_domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("validation_type", sa.String(length=10), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("validation_token", sa.String(length=100), nullable=False, server_default="")
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("init_code_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("init_code_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("description", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "access_token_type", sa.String(length=10), nullable=False, server_default="bearer"
            )
        )
        batch_op.add_column(sa.Column("secret_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("secret_digest")
        batch_op.drop_column("access_token_type")
        batch_op.drop_column("description")
        batch_op.drop_column("init_code_expires_at")
        batch_op.drop_column("init_code_digest")

    with op.batch_alter_table("org_domains", schema=None) as batch_op:
        batch_op.drop_column("validation_token")
        batch_op.drop_column("validation_type")

    with op.batch_alter_table("user_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_grants_project_id"))
        batch_op.drop_index(batch_op.f("ix_user_grants_project_grant_id"))
        batch_op.drop_index(batch_op.f("ix_user_grants_org_id"))

    op.drop_table("user_grants")
    op.drop_table("project_roles")
    with op.batch_alter_table("project_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_grants_project_id"))
        batch_op.drop_index(batch_op.f("ix_project_grants_granted_org_id"))

    op.drop_table("project_grants")
    with op.batch_alter_table("personal_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_access_tokens_user_id"))

    op.drop_table("personal_access_tokens")
    with op.batch_alter_table("machine_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_machine_keys_user_id"))

    op.drop_table("machine_keys")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_project_id"))
        batch_op.drop_index(batch_op.f("ix_apps_org_id"))

    op.drop_table("apps")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_org_id"))

    op.drop_table("projects")
    op.drop_table("smtp_configs")
