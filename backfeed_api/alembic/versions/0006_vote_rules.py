"""vote rules: a vote finds the evaluator's earlier votes on the contribution by an index

Revision ID: 0006_vote_rules
Revises: 0005
Create Date: 2026-12-01 22:00:00
"""

from alembic import op

revision = "0006_vote_rules"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_evaluations_contribution_evaluator",
        "evaluations",
        ["contribution_id", "evaluator_id", "active"],
    )


def downgrade() -> None:
    op.drop_index("ix_evaluations_contribution_evaluator", table_name="evaluations")
