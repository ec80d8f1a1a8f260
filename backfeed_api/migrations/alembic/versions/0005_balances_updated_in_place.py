"""balances updated in place: no index on users' balances, a fifth of each page kept free

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:00:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BALANCE_INDEXES = {
    "ix_users_contract_reputation": ["contract_id", "reputation", "id"],
    "ix_users_contract_tokens": ["contract_id", "tokens", "id"],
}
FILLFACTOR = 80


def upgrade() -> None:
    for name in BALANCE_INDEXES:
        op.drop_index(name, table_name="users")
    if op.get_context().dialect.name == "postgresql":
        # Applies to pages written from now on; VACUUM FULL would rewrite the old ones.
        op.execute(f"ALTER TABLE users SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE users RESET (fillfactor)")
    for name, columns in BALANCE_INDEXES.items():
        op.create_index(name, "users", columns)
