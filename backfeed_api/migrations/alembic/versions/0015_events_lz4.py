"""events' documents compressed with lz4 on PostgreSQL

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:00:00

An event's document is stored in the vote's own transaction, and one of a few kilobytes is
compressed before it is stored: PostgreSQL's default method (pglz) took about twice as long
as lz4 on an event of 11 kB, time added to every vote. A server built without lz4 keeps
pglz. Stored documents keep the method they were written with; SQLite is unchanged.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LZ4_BUILT_IN = sa.text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def _set_compression(method: str) -> None:
    if op.get_context().dialect.name == "postgresql" and op.get_bind().scalar(LZ4_BUILT_IN):
        op.execute(sa.text(f"ALTER TABLE events ALTER COLUMN data SET COMPRESSION {method}"))


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
