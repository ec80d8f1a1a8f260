"""replay jobs: what-if replays asked over HTTP, run by the worker

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 05:00:00

One row per job, with its report, its CSV and its PNG once done (bytes: the web process
and the workers share the database, not a disk), deleted by the worker when it expires.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime()


def upgrade() -> None:
    op.create_table(
        "replay_jobs",
        sa.Column("id", Id, nullable=False),
        sa.Column("contract_id", Id, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("users_csv", sa.LargeBinary(), nullable=True),
        sa.Column("plot_png", sa.LargeBinary(), nullable=True),
        sa.Column("lease_id", sa.String(32), nullable=True),
        sa.Column("leased_until", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("expires_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name="fk_replay_jobs_contract_id_contracts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_replay_jobs"),
    )
    op.create_index("ix_replay_jobs_contract_id", "replay_jobs", ["contract_id", "id"])
    op.create_index("ix_replay_jobs_status", "replay_jobs", ["status", "id"])
    op.create_index("ix_replay_jobs_expires_at", "replay_jobs", ["expires_at"])


def downgrade() -> None:
    op.drop_table("replay_jobs")
