"""evaluations listed in seq order: the indexes of a contract's votes end with seq, not id

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:15:00
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BY_SEQ = {
    "ix_evaluations_contract_seq": ["contract_id", "seq"],
    "ix_evaluations_contract_evaluator": ["contract_id", "evaluator_id", "seq"],
    "ix_evaluations_contract_value": ["contract_id", "value", "seq"],
}
BY_ID = {
    "ix_evaluations_contract_id": ["contract_id", "active", "id"],
    "ix_evaluations_contract_evaluator": ["contract_id", "evaluator_id", "id"],
    "ix_evaluations_contract_value": ["contract_id", "value", "id"],
}


def _replace(old: dict[str, list[str]], new: dict[str, list[str]]) -> None:
    for name in old:
        op.drop_index(name, table_name="evaluations")
    for name, columns in new.items():
        op.create_index(name, "evaluations", columns)


def upgrade() -> None:
    _replace(BY_ID, BY_SEQ)


def downgrade() -> None:
    _replace(BY_SEQ, BY_ID)
