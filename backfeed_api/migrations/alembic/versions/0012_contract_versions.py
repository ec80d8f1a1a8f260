"""contract versions: every configuration a contract has had, and service-wide tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 05:00:00

A contract's configuration is versioned: each row of ``contract_versions`` is one version,
its overrides of the kind's defaults, the full parameters they make, the action number
(``seq``) after which it applies, when it was made and by whom (``origin`` ``ini`` or
``http``, and the token of an HTTP change). The contracts already stored get their version 1
at the next start-up, from the settings that served them (the version every action so far
recorded). A token without a contract (``api_tokens.contract_id`` NULL) is a service-wide
admin token, which may create contracts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contract_versions",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "contract_id",
            Id,
            sa.ForeignKey("contracts.id", name=op.f("fk_contract_versions_contract_id_contracts")),
            nullable=False,
        ),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("ini_overrides", sa.JSON(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "uq_contract_versions_version",
        "contract_versions",
        ["contract_id", "version"],
        unique=True,
    )
    # SQLite changes a column's nullability only by rebuilding the table: api_tokens has
    # no trigger for a rebuild to lose.
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.alter_column("contract_id", existing_type=Id, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM api_tokens WHERE contract_id IS NULL")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.alter_column("contract_id", existing_type=Id, nullable=False)
    op.drop_index("uq_contract_versions_version", "contract_versions")
    op.drop_table("contract_versions")
