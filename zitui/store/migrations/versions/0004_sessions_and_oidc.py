"""sessions and oidc

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=True),
        sa.Column("refresh_token_id", sa.String(length=40), nullable=True),
        sa.Column("auth_request_id", sa.String(length=40), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_access_tokens_auth_request_id"), ["auth_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_tokens_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_tokens_refresh_token_id"), ["refresh_token_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_tokens_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("browser_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("password_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("second_factor_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("multi_factor_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("browser_digest", "user_id", name="uq_sessions_browser_user"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sessions_browser_digest"), ["browser_digest"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "app_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("app_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_keys_app_id"), ["app_id"], unique=False)

    op.create_table(
        "auth_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("response_type", sa.String(length=40), nullable=False),
        sa.Column("response_mode", sa.String(length=20), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=200), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("prompt", sa.JSON(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("login_hint", sa.String(length=400), nullable=False),
        sa.Column("ui_locales", sa.JSON(), nullable=False),
        sa.Column("acr_values", sa.JSON(), nullable=False),
        sa.Column("id_token_hint_subject", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=True),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auth_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_requests_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_auth_requests_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("absolute_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "auth_codes",
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("auth_request_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["auth_request_id"], ["auth_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_digest"),
    )
    with op.batch_alter_table("auth_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_codes_auth_request_id"), ["auth_request_id"], unique=False
        )

    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activates_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_column("activates_at")

    with op.batch_alter_table("auth_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_codes_auth_request_id"))

    op.drop_table("auth_codes")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_app_id"))

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("auth_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_requests_expires_at"))
        batch_op.drop_index(batch_op.f("ix_auth_requests_app_id"))

    op.drop_table("auth_requests")
    with op.batch_alter_table("app_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_keys_app_id"))

    op.drop_table("app_keys")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_sessions_browser_digest"))

    op.drop_table("sessions")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_session_id"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_refresh_token_id"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_auth_request_id"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_app_id"))

    op.drop_table("access_tokens")
