"""login sessions: a failed login without a readable client address

Revision ID: 0009_login_sessions
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_login_sessions"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column("address", existing_type=sa.String(length=100), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE login_failures SET address = '' WHERE address IS NULL")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column("address", existing_type=sa.String(length=100), nullable=False)
