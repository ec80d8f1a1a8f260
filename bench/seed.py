"""Bulk seeding of a PostgreSQL database with the contracts of a plan, not through the API.

Each table is filled by one ``INSERT … SELECT`` over ``generate_series`` on the server, so
a million evaluations take seconds. What is stored is a state the API could have produced:

- users (of kind ``example`` in the suite) with opening reputation between 1 and 100 and the kind's
  initial tokens, each with its opening ledger entry (a user created with explicit balances);
- contributions of the default type, round-robin over the users, each paying the type's fee
  with its ledger entry, ``token_fund`` at the type's fund (no seeded vote moves it);
- active evaluations, unique per (contribution, evaluator);
- the contract row's counters, ``action_count`` and totals equal to what its rows sum to, and
  every row's ``seq`` and ``created_at`` in one commit order (one action a second, ending
  now).

The simplification: seeded votes moved no balance. Their fees and rewards would depend on
the order of every earlier action, and paying them would need a ledger entry for each earlier
agreeing voter of each vote (quadratic in ``k``). So ``backfeed check`` finds checks (a), (b)
and (d) satisfied on a seeded contract but not (c), the replay of the history through the
engine. ``max_score`` is the score the contribution has now (voted reputation for 1 over the
total), what the engine would hold after a last vote of 1 had no balance moved.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

import protocol
from backfeed_api.auth.credentials import ADMIN, issue_token
from backfeed_api.domain.catalog import load_catalog
from backfeed_api.migrations import upgrade_database
from backfeed_api.models import get_session_factory

from .floor import create_floor_table
from .plan import ContractPlan

STRIDE = 7919
"""Contribution ``j``'s ``t``-th voter is user ``(j * STRIDE + t) mod users`` of its contract:
distinct for a given ``j``, and another set of users for the next contribution."""

USERS = sa.text(
    """
    INSERT INTO users (id, contract_id, reputation, tokens, referrer_id, seq, created_at)
    SELECT :u0 + g, :cid, 1 + 99 * random(),
           :tokens - :fee * (:c / :n + CASE WHEN g <= :c % :n THEN 1 ELSE 0 END),
           NULL, g, :t0 + g * interval '1 second'
    FROM generate_series(1, :n) AS g
    """
)
OPENINGS = sa.text(
    """
    INSERT INTO ledger (contract_id, user_id, cause_type, cause_id, reputation_delta,
                        tokens_delta, reputation, tokens, created_at)
    SELECT :cid, id, 'user', id, reputation, :tokens, reputation, :tokens, created_at
    FROM users WHERE contract_id = :cid ORDER BY id
    """
)
CONTRIBUTIONS = sa.text(
    """
    INSERT INTO contributions (id, contract_id, contributor_id, type, max_score, token_fund,
                               seq, created_at)
    SELECT :c0 + j, :cid, :u0 + 1 + (j - 1) % :n, :type, 0, :fund, :n + j,
           :t0 + (:n + j) * interval '1 second'
    FROM generate_series(1, :c) AS j
    """
)
FEES = sa.text(
    """
    INSERT INTO ledger (contract_id, user_id, cause_type, cause_id, reputation_delta,
                        tokens_delta, reputation, tokens, created_at)
    SELECT :cid, c.contributor_id, 'contribution', c.id, 0, -:fee, u.reputation,
           :tokens - :fee * ((c.id - :c0 - 1) / :n + 1), c.created_at
    FROM contributions AS c JOIN users AS u ON u.id = c.contributor_id
    WHERE c.contract_id = :cid ORDER BY c.id
    """
)
EVALUATIONS = sa.text(
    """
    INSERT INTO evaluations (id, contract_id, contribution_id, evaluator_id, value, active,
                             seq, created_at)
    SELECT :e0 + number, :cid, :c0 + j, :u0 + 1 + (j * :stride + t) % :n,
           CASE WHEN random() < :up THEN 1 ELSE 0 END, true, :n + :c + number,
           :t0 + (:n + :c + number) * interval '1 second'
    FROM unnest(CAST(:firsts AS bigint[]), CAST(:counts AS bigint[]),
                CAST(:voters AS bigint[]), CAST(:befores AS bigint[]))
             AS g (first_index, size, voters, earlier),
         generate_series(0, g.size - 1) AS i,
         generate_series(0, g.voters - 1) AS t,
         LATERAL (SELECT g.first_index + i AS j, g.earlier + i * g.voters + t + 1 AS number) AS n
    """
)
TOTALS = sa.text(
    """
    UPDATE contracts SET
        user_count = :n, contribution_count = :c, evaluation_count = :e,
        action_count = :n + :c + :e, created_at = :t0,
        total_reputation = (SELECT sum(reputation) FROM users WHERE contract_id = :cid),
        total_tokens = (SELECT sum(tokens) FROM users WHERE contract_id = :cid)
    WHERE id = :cid
    RETURNING total_reputation
    """
)
MAX_SCORES = sa.text(
    """
    UPDATE contributions AS c SET max_score = v.up / :total
    FROM (SELECT e.contribution_id, sum(u.reputation) AS up
          FROM evaluations AS e JOIN users AS u ON u.id = e.evaluator_id
          WHERE e.contract_id = :cid AND e.value = 1
          GROUP BY e.contribution_id) AS v
    WHERE c.id = v.contribution_id
    """
)


BULK_TABLES = ["users", "contributions", "evaluations", "ledger"]
"""The tables loaded in bulk, whose secondary indexes and foreign keys are rebuilt after."""
INDEX_MEMORY = "512MB"
"""Memory for each index build: the largest index of a full run sorts in memory."""
INDEXES = sa.text(
    """
    SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
    WHERE indrelid = ANY(CAST(:tables AS regclass[])) AND NOT indisprimary
    """
)
FOREIGN_KEYS = sa.text(
    """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype = 'f'
    """
)


@dataclass(frozen=True)
class SeededContract:
    """Where a plan's rows landed: the ids of its users and contributions, and its voters."""

    plan: ContractPlan
    row_id: int
    first_user: int
    """The id before the contract's first user id (users are ``first_user + 1 …``)."""
    first_contribution: int
    seconds: float
    """How long seeding the contract took."""
    token: str
    """An admin token of the contract, stored like those of ``backfeed token create``: the
    server looks it up at every request, as in production."""

    def user_id(self, index: int) -> int:
        """The id of the contract's ``index``-th user (from 0)."""
        return self.first_user + 1 + index % self.plan.users

    def contribution_id(self, index: int) -> int:
        """The id of the contract's ``index``-th contribution (from 0)."""
        return self.first_contribution + 1 + index

    def voter(self, index: int, position: int) -> int:
        """The id of the ``position``-th voter (from 0) of the ``index``-th contribution.

        Positions below the contribution's seeded voters are its earlier voters; the next
        ones are users who have not voted on it, in the same rotation.
        """
        return self.user_id(((index + 1) * STRIDE + position) % self.plan.users)

    def newcomers(self, index: int, earlier: int, count: int) -> list[int]:
        """The ids of the ``count`` users who vote next on the ``index``-th contribution,
        after its ``earlier`` seeded voters, in the same rotation but for its contributor
        (the ``index``-th user), whose vote on it would be refused."""
        contributor = self.user_id(index)
        following = (self.voter(index, position) for position in itertools.count(earlier))
        return list(itertools.islice((u for u in following if u != contributor), count))

    def group_start(self, group: int) -> int:
        """The index of the first contribution of the plan's ``group``-th group."""
        return sum(g.contributions for g in self.plan.groups[:group])


def contract_setting(plans: Sequence[ContractPlan]) -> str:
    """The ``backfeed.contracts`` setting that serves the contracts of ``plans``."""
    return " ".join(f"{plan.name}:{plan.kind}" for plan in plans)


def create_schema(engine: sa.Engine, plans: Sequence[ContractPlan]) -> dict[str, int]:
    """The schema (the service's own migrations), the contract rows and the floor's table;
    return each contract's row id."""
    upgrade_database(engine)
    settings = {"backfeed.contracts": contract_setting(plans)}
    with get_session_factory(engine)() as session, session.begin():
        catalog = load_catalog(session, settings, datetime.now(UTC))
        create_floor_table(session.connection())
    return {contract.name: contract.row_id for contract in catalog}


def drop_indexes(connection: sa.Connection) -> list[str]:
    """Drop the secondary indexes and foreign keys of the bulk tables; return the statements
    that recreate them, from their definitions in the catalog.

    Loading into bare tables and building each index once, sorted, is several times faster
    than maintaining six indexes and three foreign key checks row by row; rebuilding also
    checks the seeded rows against every constraint, the unique active vote included.
    """
    tables = {"tables": BULK_TABLES}
    indexes = connection.execute(INDEXES, tables).all()
    foreign_keys = connection.execute(FOREIGN_KEYS, tables).all()
    for table, name, _ in foreign_keys:
        connection.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        connection.execute(sa.text(f"DROP INDEX {name}"))
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in foreign_keys
    ]


def seed_contract(
    connection: sa.Connection,
    plan: ContractPlan,
    row_id: int,
    first_ids: tuple[int, int, int],
    now: datetime,
) -> None:
    """Insert one contract's users, contributions, evaluations and ledger, and its totals."""
    rules = protocol.create_contract(plan.kind)
    kind = rules.contribution_type()
    tokens = rules.params.user_initial_tokens
    if plan.contributions > plan.users * (tokens // kind.fee):
        raise ValueError(f"{plan.name}: too many contributions for the users' tokens")
    if any(group.voters > plan.users for group in plan.groups):
        raise ValueError(f"{plan.name}: more voters on a contribution than users")
    actions = plan.users + plan.contributions + plan.evaluations
    u0, c0, e0 = first_ids
    firsts, befores, first, before = [], [], 1, 0
    for group in plan.groups:
        firsts.append(first)
        befores.append(before)
        first += group.contributions
        before += group.contributions * group.voters
    common = {
        "cid": row_id,
        "u0": u0,
        "c0": c0,
        "e0": e0,
        "n": plan.users,
        "c": plan.contributions,
        "e": plan.evaluations,
        "t0": now - timedelta(seconds=actions + 1),
        "tokens": tokens,
        "fee": kind.fee,
    }
    connection.execute(sa.text("SELECT setseed(0.2016)"))
    connection.execute(USERS, common)
    connection.execute(OPENINGS, common)
    connection.execute(
        CONTRIBUTIONS, {**common, "type": kind.name, "fund": kind.token_fund_for_evaluators}
    )
    connection.execute(FEES, common)
    connection.execute(
        EVALUATIONS,
        {
            **common,
            "stride": STRIDE,
            "up": plan.up_share,
            "firsts": firsts,
            "counts": [group.contributions for group in plan.groups],
            "voters": [group.voters for group in plan.groups],
            "befores": befores,
        },
    )
    total = connection.execute(TOTALS, common).scalar_one()
    connection.execute(MAX_SCORES, {"cid": row_id, "total": total})


@dataclass(frozen=True)
class Seeding:
    """What was seeded, and how long it took (s) in all and to build the indexes."""

    contracts: dict[str, SeededContract]
    seconds: float
    index_seconds: float


def admin_token(engine: sa.Engine, contract_id: int) -> str:
    """A new admin token of the contract (issued once its tables have their indexes)."""
    with get_session_factory(engine)() as session:
        _row, token = issue_token(session, contract_id, ADMIN, datetime.now(UTC))
        session.commit()
    return token


def seed(url: str, plans: Sequence[ContractPlan]) -> Seeding:
    """Create the schema in the (empty) database at ``url`` and seed every plan into it,
    one transaction per contract, into tables without secondary indexes that are rebuilt
    afterwards; then vacuum and analyse, as a live database would be."""
    started = time.perf_counter()
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        row_ids = create_schema(engine, plans)
        with engine.begin() as connection:
            rebuild = drop_indexes(connection)
        now = datetime.now(UTC).replace(tzinfo=None)
        placed: dict[str, tuple] = {}
        u0 = c0 = e0 = 0
        for plan in plans:
            loading = time.perf_counter()
            with engine.begin() as connection:
                seed_contract(connection, plan, row_ids[plan.name], (u0, c0, e0), now)
            placed[plan.name] = (plan, row_ids[plan.name], u0, c0, time.perf_counter() - loading)
            u0, c0, e0 = u0 + plan.users, c0 + plan.contributions, e0 + plan.evaluations
        indexing = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}'"))
            for statement in rebuild:
                connection.execute(sa.text(statement))
            for table, last in (("users", u0), ("contributions", c0), ("evaluations", e0)):
                connection.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
                    {"last": max(last, 1)},
                )
        index_seconds = time.perf_counter() - indexing
        seeded = {
            name: SeededContract(*where, admin_token(engine, row_ids[name]))
            for name, where in placed.items()
        }
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return Seeding(seeded, time.perf_counter() - started, index_seconds)
