"""explanations: every ledger entry says which rule made it, from which inputs, by which
formula, under which version of its contract's configuration

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00

An action's explanation row holds the terms of its rules (rule, formulas, shared inputs)
and the configuration version it ran under; each ledger entry names the terms that made it
(a bit mask) and its own inputs. Entries written before have neither and read as
``unexplained``: their inputs were never recorded, and recomputing them now would state
as fact what is only a reconstruction. Every contract is at configuration version 1, its
parameters as the settings give them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "explanations",
        sa.Column("id", Id, primary_key=True),
        sa.Column("contract_id", Id, nullable=False),
        sa.Column("cause_type", sa.String(20), nullable=False),
        sa.Column("cause_id", sa.BigInteger(), nullable=False),
        sa.Column("config_version", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
    )
    op.create_index(
        "uq_explanations_cause",
        "explanations",
        ["contract_id", "cause_type", "cause_id"],
        unique=True,
    )
    # Plain ADD COLUMN, which SQLite does in place (a table rebuilt would lose the triggers
    # of migration 0009).
    op.add_column("ledger", sa.Column("terms", sa.BigInteger(), nullable=True))
    op.add_column("ledger", sa.Column("inputs", sa.Text(), nullable=True))
    op.add_column(
        "contracts", sa.Column("version", sa.BigInteger(), nullable=False, server_default="1")
    )


def downgrade() -> None:
    op.drop_column("contracts", "version")
    op.drop_column("ledger", "inputs")
    op.drop_column("ledger", "terms")
    op.drop_index("uq_explanations_cause", "explanations")
    op.drop_table("explanations")
