"""vote rules: a vote finds the evaluator's earlier votes on the contribution by an index;
the database holds every balance, fund and total within the limit of 10^15

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00

The limit backs up the engine's (``protocol.MAX_BALANCE``): check constraints on
PostgreSQL, added ``NOT VALID`` so that the migration never fails on rows written before
(each row is checked again when it is next written; ``ALTER TABLE ... VALIDATE CONSTRAINT``
checks them all), and triggers on SQLite, which cannot add a check constraint without
rebuilding a table that others reference. ``backfeed_api.domain.bounds`` knows the names.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LIMIT = "1e15"
"""``protocol.MAX_BALANCE`` as it was when this was written: a migration never changes."""
FINITE = "1e300"
"""The bound of a user's stored reputation, which is in units of its contract's scale
(migration 0008) and so may exceed the limit while its balance does not: it only has to be
finite. The contract's total reputation, which every balance is part of, has the limit."""
BOUNDED = {
    "ck_users_balances_bounded": ("users", {"reputation": FINITE, "tokens": LIMIT}),
    "ck_contributions_token_fund_bounded": ("contributions", {"token_fund": LIMIT}),
    "ck_contracts_totals_bounded": (
        "contracts",
        {"total_reputation": LIMIT, "total_tokens": LIMIT},
    ),
}


def _within(columns: dict[str, str], row: str = "") -> str:
    """The condition that every column of ``columns`` (of the row ``row``) is within its
    bound; NaN, which compares false, is not."""
    return " AND ".join(
        f"{row}{column} BETWEEN -{bound} AND {bound}" for column, bound in columns.items()
    )


def upgrade() -> None:
    op.create_index(
        "ix_evaluations_contribution_evaluator",
        "evaluations",
        ["contribution_id", "evaluator_id", "active"],
    )
    postgresql = op.get_context().dialect.name == "postgresql"
    for name, (table, columns) in BOUNDED.items():
        if postgresql:
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({_within(columns)}) NOT VALID"
            )
            continue
        for event in ("insert", "update"):
            op.execute(
                f"CREATE TRIGGER {name}_{event} BEFORE {event.upper()} ON {table} "
                f"WHEN NOT ({_within(columns, 'NEW.')}) "
                f"BEGIN SELECT RAISE(ABORT, '{name}'); END"
            )


def downgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    for name, (table, _) in BOUNDED.items():
        if postgresql:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        else:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER {name}_{event}")
    op.drop_index("ix_evaluations_contribution_evaluator", table_name="evaluations")
