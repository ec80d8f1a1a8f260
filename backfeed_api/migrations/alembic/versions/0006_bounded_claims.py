"""bounded claims: idempotency keys store digests of the route and the key

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:00:00

A claim stored the request's path and the client's key as they were, in columns of 300 and
255 characters: a longer path failed the request at its INSERT. Both are SHA-256 digests
now, and the Location is stored relative to the application's URL. The claims stored so far
are deleted: their route and key cannot be turned into digests by SQL on both databases,
and they only let a retry of the last ``backfeed.idempotency_hours`` be answered from the
store, which a retry sent across the upgrade of a stopped service loses.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BEFORE = {"route": 300, "key": 255}


def _resize(lengths: dict[str, int]) -> None:
    op.execute(sa.text("DELETE FROM idempotency_keys"))
    with op.batch_alter_table("idempotency_keys") as table:
        for column, length in lengths.items():
            table.alter_column(column, type_=sa.String(length), existing_nullable=False)


def upgrade() -> None:
    _resize({column: 64 for column in BEFORE})


def downgrade() -> None:
    _resize(BEFORE)
