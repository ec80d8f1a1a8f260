"""ledger without foreign keys: their per-entry check weighed on every vote's rewards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 04:00:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_constraint("fk_ledger_user_id_users", type_="foreignkey")
        batch.drop_constraint("fk_ledger_contract_id_contracts", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.create_foreign_key(
            "fk_ledger_contract_id_contracts", "contracts", ["contract_id"], ["id"]
        )
        batch.create_foreign_key("fk_ledger_user_id_users", "users", ["user_id"], ["id"])
