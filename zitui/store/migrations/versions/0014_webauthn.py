"""WebAuthn credentials of users (security keys and passkeys) and the kind of a session's
second factor

Revision ID: 0014_webauthn
Revises: 0013_mfa_skip
Create Date: 2026-12-06

Columns added in place (no batch copy); a unique index finds a credential by its id, as a
passkey sign-in knows nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_webauthn"
down_revision = "0013_mfa_skip"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_factors", sa.Column("transports", sa.JSON(), nullable=True))
    op.create_index(
        "ix_user_factors_credential_id", "user_factors", ["credential_id"], unique=True
    )
    op.add_column(
        "sessions", sa.Column("second_factor_kind", sa.String(length=20), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("sessions", "second_factor_kind")
    op.drop_index("ix_user_factors_credential_id", table_name="user_factors")
    op.drop_column("user_factors", "transports")
