"""login sessions: login tokens expire; a failed login without a readable client address

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import backfeed_api.models.meta

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LIFETIME_DAYS = 30
"""The default lifetime of a login token, given to the login tokens already issued."""


def upgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column("address", existing_type=sa.String(length=100), nullable=True)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", backfeed_api.models.meta.UTCDateTime(), nullable=True)
        )
        batch_op.create_index("ix_api_tokens_user_id", ["user_id", "id"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        expiry = f"created_at + interval '{LIFETIME_DAYS} days'"
    else:
        expiry = f"datetime(created_at, '+{LIFETIME_DAYS} days')"
    op.execute(f"UPDATE api_tokens SET expires_at = {expiry} WHERE origin = 'login'")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_api_tokens_user_id")
        batch_op.drop_column("expires_at")
    op.execute("UPDATE login_failures SET address = '' WHERE address IS NULL")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column("address", existing_type=sa.String(length=100), nullable=False)
