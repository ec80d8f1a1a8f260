"""collective losses: a whitepaper1 vote's non-voters lose through one ledger entry

A contract scale multiplies every stored reputation; a collective ledger entry (no user)
records the loss of a contribution's non-voters, and ledger_exemptions the voters it spared.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLLECTIVE = sa.text("user_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(
            sa.Column("reputation_scale", sa.Double(), nullable=False, server_default="1")
        )
        batch.add_column(
            sa.Column("scale_exponent", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("ledger") as batch:
        batch.alter_column("user_id", existing_type=Id, nullable=True)
        batch.add_column(sa.Column("factor", sa.Double(), nullable=True))
        batch.add_column(sa.Column("contribution_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("scale", sa.Double(), nullable=True))
        batch.add_column(sa.Column("scale_exponent", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_ledger_collective",
        "ledger",
        ["contract_id", "id"],
        postgresql_where=COLLECTIVE,
        sqlite_where=COLLECTIVE,
    )
    op.create_table(
        "ledger_exemptions",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("ledger_id", Id, nullable=False),
        sa.Column("reputation", sa.Double(), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "ledger_id", name="pk_ledger_exemptions"),
    )


def downgrade() -> None:
    collective = op.get_bind().scalar(sa.text("SELECT count(*) FROM ledger WHERE user_id IS NULL"))
    if collective:
        raise RuntimeError(
            f"the ledger holds {collective} collective losses, which the earlier schema cannot "
            "record: downgrading would lose the non-voters' history"
        )
    op.drop_table("ledger_exemptions")
    op.drop_index("ix_ledger_collective", table_name="ledger")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("scale_exponent")
        batch.drop_column("scale")
        batch.drop_column("contribution_id")
        batch.drop_column("factor")
        batch.alter_column("user_id", existing_type=Id, nullable=False)
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("scale_exponent")
        batch.drop_column("reputation_scale")
