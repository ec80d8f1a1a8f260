"""explanations and configuration versions: every ledger entry says which rule made it,
from which inputs, by which formula, under which version of its contract's parameters

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02 01:00:00

An action's explanation row holds the terms of its rules (rule, formulas, shared inputs)
and the configuration version it ran under; each ledger entry names the terms that made it
(a bit mask) and its own inputs. Entries written before have neither and read as
``unexplained``: their inputs were never recorded, and recomputing them now would state
as fact what is only a reconstruction. Every contract has version 1, its parameters as the
settings give them; service tokens (no contract) may manage contracts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
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
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("terms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("inputs", sa.Text(), nullable=True))
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False, server_default="1"))
    op.create_table(
        "contract_versions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("contract_id", Id, sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("overrides", sa.Text(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(10), nullable=False),
    )
    op.create_index(
        "uq_contract_versions_version",
        "contract_versions",
        ["contract_id", "version"],
        unique=True,
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("contract_id", existing_type=Id, nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("contract_id", existing_type=Id, nullable=False)
    op.drop_index("uq_contract_versions_version", "contract_versions")
    op.drop_table("contract_versions")
    op.drop_column("contracts", "version")
    op.drop_column("ledger", "inputs")
    op.drop_column("ledger", "terms")
    op.drop_index("uq_explanations_cause", "explanations")
    op.drop_table("explanations")
