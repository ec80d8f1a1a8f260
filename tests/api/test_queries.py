"""The number of SQL statements of a request does not grow with the data it shows or reads.

Lists are rendered with a fixed number of queries whatever the page size, and a vote costs
the same number of statements with 1 earlier voter as with 30 (voted through the API) or
1,000 (seeded in bulk).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from backfeed_api.domain.vote_store import EVALUATION_COLUMNS
from backfeed_api.models import ContractRow, Evaluation, User

from ..conftest import bearer, issue_token
from .conftest import Served, counting_statements

CONTRIBUTIONS = 50
VOTERS = 30
MANY_VOTERS = 1_000


@dataclass(frozen=True)
class Crowd:
    """Many users, contributions and votes on ``example``."""

    users: list[int]
    contributions: list[int]


@pytest.fixture(scope="module")
def crowd(served: Served) -> Crowd:
    api = served.api
    users = [api.user(reputation=10 + i)["id"] for i in range(10)]
    users += [api.user(referrer_id=users[i])["id"] for i in range(5)]
    contributions = []
    for i in range(CONTRIBUTIONS):
        author = users[i % len(users)]
        contributions.append(api.contribution(author, type=("article", "comment")[i % 2])["id"])
        for j in range(1 + i % 2):
            voter = users[(i + 1 + 4 * j) % len(users)]
            api.vote(voter, contributions[-1], (i + j) % 2)
    return Crowd(users, contributions)


def statements_of(served: Served, path: str, **params) -> int:
    """How many statements ``GET path`` takes; it must succeed."""
    with counting_statements(served.db) as executed:
        served.app.get(path, params=params, status=200)
    return len(executed)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/example/contributions", {}),
        ("/example/contributions", {"order_by": "score"}),
        ("/example/contributions", {"order_by": "time"}),
        ("/example/contributions", {"order_by": "-time"}),
        ("/example/contributions", {"type": "article", "order_by": "-score"}),
        ("/example/contributions", {"type": "comment", "order_by": "time"}),
        ("/example/evaluations", {}),
        ("/example/evaluations", {"include_superseded": "true"}),
        ("/example/evaluations", {"value": "1"}),
        ("/example/users", {}),
        ("/example/users", {"order_by": "-reputation"}),
        ("/example/users", {"order_by": "tokens"}),
    ],
)
def test_a_list_takes_as_many_statements_for_2_items_as_for_50(served, crowd, path, params):
    small = served.app.get(path, params={**params, "limit": 2}).json
    large = served.app.get(path, params={**params, "limit": 50}).json
    assert small["count"] == 2
    assert large["count"] >= 15  # the larger page really is larger
    few = statements_of(served, path, **params, limit=2)
    many = statements_of(served, path, **params, limit=50)
    assert few > 0  # the listener sees the application's statements
    assert few == many


def test_a_users_history_takes_as_many_statements_for_2_entries_as_for_50(served, crowd):
    path = f"/example/users/{crowd.users[0]}/history"
    assert served.app.get(path).json["_meta"]["total"] > 5
    assert statements_of(served, path, limit=2) == statements_of(served, path, limit=50)


def test_one_contribution_takes_as_many_statements_with_many_votes(served, crowd):
    api = served.api
    author = api.user()["id"]
    quiet = api.contribution(author)["id"]
    busy = api.contribution(author)["id"]
    for voter in crowd.users:
        api.vote(voter, busy, 1)
    assert statements_of(served, f"/example/contributions/{quiet}") == statements_of(
        served, f"/example/contributions/{busy}"
    )


@pytest.mark.parametrize("contract", ["rewarded", "whitepaper1"])
def test_a_vote_takes_as_many_statements_after_1_voter_as_after_30(served, contract):
    api = served.api
    referrer = api.user(contract)["id"]
    voters = [api.user(contract, referrer_id=referrer)["id"] for _ in range(VOTERS)]
    author = api.user(contract)["id"]
    lonely = api.contribution(author, contract)["id"]
    crowded = api.contribution(author, contract)["id"]
    api.vote(voters[0], lonely, 1, contract)
    for voter in voters:
        api.vote(voter, crowded, 1, contract)
    newcomer = api.user(contract)["id"]

    counts = []
    for contribution in (lonely, crowded):
        body = {"evaluator_id": newcomer, "contribution_id": contribution, "value": 1}
        with counting_statements(served.db) as executed:
            served.app.post_json(f"/{contract}/evaluations", body, status=201)
        counts.append(len(executed))
    assert counts[0] > 0
    assert counts[0] == counts[1]
    # every earlier voter of the crowded contribution was rewarded (by the same statements)
    history = api.items(f"/{contract}/users/{voters[-1]}/history")
    assert history[0]["cause"]["type"] == "evaluation"


def test_a_vote_with_a_stored_token_takes_one_connection_on_postgresql(served):
    """On PostgreSQL the token is looked up in the request's own transaction; SQLite looks it
    up in a short session of its own (see ``security.read_credential``)."""
    api = served.api
    author, voter = api.user()["id"], api.user()["id"]
    contribution = api.contribution(author)["id"]
    token = issue_token(served.db, "example", "admin")
    checkouts: list[object] = []

    def record(dbapi_connection, _connection_record, _proxy) -> None:
        checkouts.append(dbapi_connection)

    body = {"evaluator_id": voter, "contribution_id": contribution, "value": 1}
    sa.event.listen(served.db, "checkout", record)
    try:
        with counting_statements(served.db) as executed:
            served.app.post_json("/example/evaluations", body, headers=bearer(token), status=201)
    finally:
        sa.event.remove(served.db, "checkout", record)
    assert any("token_hash" in statement for statement in executed)  # the token was looked up
    assert len(checkouts) == (2 if served.db.dialect.name == "sqlite" else 1)


def seed_voters(db: sa.Engine, contract: str, contribution_id: int, count: int) -> None:
    """Add ``count`` users, each with reputation 1 and an active vote 1 on the contribution,
    straight into the database, keeping the contract's totals and counters right."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.begin() as connection:
        row = connection.execute(sa.select(ContractRow).where(ContractRow.name == contract)).one()
        users = connection.execute(
            sa.insert(User).returning(User.id),
            [
                {
                    "contract_id": row.id,
                    "reputation": 1.0,
                    "tokens": 0.0,
                    "seq": row.action_count + 1 + i,
                    "created_at": now,
                }
                for i in range(count)
            ],
        ).scalars()
        connection.execute(
            sa.insert(Evaluation),
            [
                {
                    "contract_id": row.id,
                    "contribution_id": contribution_id,
                    "evaluator_id": user_id,
                    "value": 1.0,
                    "active": True,
                    "seq": row.action_count + count + 1 + i,
                    "created_at": now,
                }
                for i, user_id in enumerate(users)
            ],
        )
        connection.execute(
            sa.update(ContractRow)
            .where(ContractRow.id == row.id)
            .values(
                total_reputation=ContractRow.total_reputation + count,
                user_count=ContractRow.user_count + count,
                evaluation_count=ContractRow.evaluation_count + count,
                action_count=ContractRow.action_count + 2 * count,
            )
        )


@pytest.mark.parametrize("contract", ["rewarded", "whitepaper1"])
def test_a_vote_takes_as_many_statements_after_1_voter_as_after_1000(served, contract):
    api = served.api
    author = api.user(contract)["id"]
    lonely = api.contribution(author, contract)["id"]
    crowded = api.contribution(author, contract)["id"]
    seed_voters(served.db, contract, lonely, 1)
    seed_voters(served.db, contract, crowded, MANY_VOTERS)
    newcomer = api.user(contract)["id"]

    counts, answers = [], []
    for contribution in (lonely, crowded):
        body = {"evaluator_id": newcomer, "contribution_id": contribution, "value": 1}
        with counting_statements(served.db) as executed:
            answers.append(served.app.post_json(f"/{contract}/evaluations", body, status=201))
        counts.append(len(executed))
    assert counts[0] > 0
    assert counts[0] == counts[1]
    # the 1,000 earlier voters are all behind the crowded contribution's answer
    lonely_up, crowded_up = (
        answer.json["contribution"]["stats"]["evaluations"]["1"]["reputation"]
        for answer in answers
    )
    assert crowded_up > 10 * lonely_up


def vote_read_plan(
    served: Served, contract: str, contribution: int, evaluator: int, contributor: int, *setup
) -> str:
    """The plan of a vote's read of its parties (PostgreSQL's ``EXPLAIN``, SQLite's
    ``EXPLAIN QUERY PLAN``), after the PostgreSQL statements ``setup``."""
    from backfeed_api.domain.evaluations import _parties_statement

    postgresql = served.db.dialect.name == "postgresql"
    statement = _parties_statement(postgresql).compile(dialect=served.db.dialect)
    with served.db.begin() as connection:
        contract_id = connection.scalar(
            sa.select(ContractRow.id).where(ContractRow.name == contract)
        )
        parameters = {"contract": contract_id, "contribution": contribution}
        parameters |= {"evaluator": evaluator, "contributor": contributor}
        if postgresql:
            for sql in setup:
                connection.exec_driver_sql(sql)
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        bound = statement.construct_params(parameters)
        if statement.positional:  # SQLite's "?" parameters, in their order
            bound = tuple(bound[name] for name in statement.positiontup)
        rows = connection.exec_driver_sql(explain + str(statement), bound)
        return "\n".join(str(row[-1]) for row in rows)


def test_a_vote_reads_each_voter_by_primary_key_whatever_the_planner_prefers(served):
    """The voters of a contribution are read one by one by primary key, never by a join
    that scans every user (as a generic plan of the prepared statement may choose on
    PostgreSQL); the planner is told to avoid nested loops, which the query leaves it no
    way around."""
    api = served.api
    author = api.user("rewarded")["id"]
    crowded = api.contribution(author, "rewarded")["id"]
    seed_voters(served.db, "rewarded", crowded, MANY_VOTERS)
    postgresql = served.db.dialect.name == "postgresql"
    plan = vote_read_plan(
        served,
        "rewarded",
        crowded,
        author,
        author,
        "ANALYZE users",
        "SET LOCAL enable_nestloop = off",
    )
    if postgresql:
        assert "Index Scan using pk_users on users" in plan, plan
        assert "Seq Scan on users" not in plan, plan
        assert "Hash Join" not in plan, plan
    else:
        assert "SCAN users" not in plan, plan


def test_a_vote_finds_the_evaluators_earlier_votes_by_their_index(served):
    """The evaluator's superseded votes on the contribution (which agreement paid once and
    the limit on changes read) are found by the contribution-and-evaluator index, not among
    every superseded vote of the contribution, which a crowd of fickle voters makes many."""
    api = served.api
    author = api.user("rewarded")["id"]
    crowded = api.contribution(author, "rewarded")["id"]
    seed_voters(served.db, "rewarded", crowded, MANY_VOTERS)
    with served.db.begin() as connection:  # every voter's vote was a 0 before
        connection.execute(
            sa.insert(Evaluation).from_select(
                EVALUATION_COLUMNS,
                sa.select(
                    Evaluation.contract_id,
                    Evaluation.contribution_id,
                    Evaluation.evaluator_id,
                    sa.literal(0.0),
                    sa.false(),
                    Evaluation.seq,
                    Evaluation.created_at,
                    Evaluation.created_at,
                ).where(Evaluation.contribution_id == crowded),
            )
        )
    voter = api.items("/rewarded/evaluations", contribution_id=crowded, limit=1)[0]
    evaluator = voter["evaluator"]["id"]

    plan = vote_read_plan(served, "rewarded", crowded, evaluator, author, "ANALYZE evaluations")

    assert "ix_evaluations_contribution_evaluator" in plan, plan
