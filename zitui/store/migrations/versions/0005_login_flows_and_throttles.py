"""login flows, throttles, used assertions, auth request addresses

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE: a batch copy of auth_requests would reflect the expression indexes
    # of users (through its foreign keys), which SQLAlchemy cannot reflect.
    op.add_column(
        "auth_requests",
        sa.Column("client_ip", sa.String(length=64), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_auth_requests_client_ip",
        "auth_requests",
        ["client_ip", "status", "expires_at"],
        unique=False,
    )

    op.create_table(
        "login_flows",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("browser_digest", sa.String(length=64), nullable=False),
        sa.Column("auth_request_id", sa.String(length=40), nullable=True),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("session_id", sa.String(length=40), nullable=True),
        sa.Column("login_name", sa.String(length=400), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("internal", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["auth_request_id"], ["auth_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_flows_auth_request_id"), ["auth_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_login_flows_browser_digest"), ["browser_digest"], unique=False
        )
        batch_op.create_index(
            "ix_login_flows_client_ip", ["client_ip", "step", "expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_login_flows_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "throttles",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_throttles_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "used_assertions",
        sa.Column("jti_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti_digest"),
    )
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_assertions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("used_assertions")
    op.drop_table("throttles")
    op.drop_table("login_flows")
    op.drop_index("ix_auth_requests_client_ip", table_name="auth_requests")
    op.drop_column("auth_requests", "client_ip")
