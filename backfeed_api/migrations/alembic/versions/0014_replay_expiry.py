"""replay jobs expire from when they end: no expiry while waiting or running

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 08:00:00

``replay_jobs.expires_at`` may be null: a job waiting or running has none, and gets one,
``keep_hours`` on, when it ends. The jobs waiting or running lose theirs. A downgrade gives
them the time they were asked, so that the older code expires them at once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TIME = sa.DateTime()


def upgrade() -> None:
    with op.batch_alter_table("replay_jobs", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=TIME, nullable=True)
    op.execute(
        sa.text("UPDATE replay_jobs SET expires_at = NULL WHERE status IN ('queued', 'running')")
    )


def downgrade() -> None:
    op.execute(sa.text("UPDATE replay_jobs SET expires_at = created_at WHERE expires_at IS NULL"))
    with op.batch_alter_table("replay_jobs", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=TIME, nullable=False)
