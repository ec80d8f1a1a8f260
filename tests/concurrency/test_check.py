"""``backfeed check <ini>``: 0 when the books balance; 1, naming what drifted, when not.

Each test runs on SQLite and on PostgreSQL: a database made by ``backfeed initdb``, given a
small history through the application, then tampered with directly in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from backfeed_api import main
from backfeed_api.migrations import upgrade_database
from tests.conftest import ADMIN_TOKEN, admin_client

from .clients import CONTRACTS
from .servers import backfeed, write_ini

USER = (
    "SELECT {}(id) FROM users"
    " WHERE contract_id = (SELECT id FROM contracts WHERE name = :contract)"
)
"""The first or last user of a contract."""
COPY_ACTIVE_VOTE = (
    "INSERT INTO evaluations (contract_id, contribution_id, evaluator_id, value, active,"
    " seq, created_at) SELECT contract_id, contribution_id, evaluator_id, value, active,"
    " seq + 1000, created_at FROM evaluations WHERE active ORDER BY id LIMIT 1"
)
"""A second active vote of a voter on a contribution, inserted behind the app's back."""


@dataclass(frozen=True)
class Books:
    """A database with a history, its settings file and an engine on it."""

    ini: Path
    engine: sa.Engine
    backend: str

    def check(self, *options: str) -> tuple[int, str]:
        """Run ``backfeed check``; its exit code and its output."""
        done = backfeed("check", self.ini, *options)
        return done.returncode, done.stdout + done.stderr

    def sql(self, statement: str, **parameters) -> None:
        """Change the database behind the application's back."""
        with self.engine.begin() as connection:
            connection.execute(sa.text(statement), parameters)

    def scalar(self, statement: str, **parameters):
        with self.engine.connect() as connection:
            return connection.execute(sa.text(statement), parameters).scalar_one()


def write_history(url: str) -> None:
    """Users (one referred), contributions, votes and a re-vote on both contracts."""
    settings = {"backfeed.contracts": CONTRACTS, "backfeed.dev_admin_token": ADMIN_TOKEN}
    app = main({}, **{"sqlalchemy.url": url, **settings})
    client = admin_client(app)
    try:
        for contract in CONTRACTS.split():
            users = [client.post_json(f"/{contract}/users", {}).json["id"] for _ in range(4)]
            users.append(
                client.post_json(f"/{contract}/users", {"referrer_id": users[0]}).json["id"]
            )
            contributions = [
                client.post_json(f"/{contract}/contributions", {"contributor_id": u}).json["id"]
                for u in users[:2]
            ]
            for number, user in enumerate(users):
                for author, contribution in zip(users, contributions, strict=False):
                    if user == author:
                        continue  # nobody evaluates their own
                    body = {
                        "evaluator_id": user,
                        "contribution_id": contribution,
                        "value": number % 2,
                    }
                    client.post_json(f"/{contract}/evaluations", body, status=201)
            revote = {"evaluator_id": users[1], "contribution_id": contributions[0], "value": 0}
            client.post_json(f"/{contract}/evaluations", revote, status=201)
    finally:
        app.registry["db_engine"].dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_books(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Books]:
    """A database with the schema and the contract rows, and no history yet."""
    if request.param == "postgresql":
        request.getfixturevalue("database")  # emptied for this test
        url = request.getfixturevalue("concurrency_database")
        ini = write_ini(tmp_path / "check.ini", url, 0, CONTRACTS)
    else:
        url = f"sqlite:///{tmp_path / 'check.sqlite'}"
        ini = write_ini(tmp_path / "check.ini", url, 0, CONTRACTS)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    if request.param == "sqlite":
        upgrade_database(engine)  # what ``backfeed initdb`` does; check adds the contracts
    yield Books(ini, engine, request.param)
    engine.dispose()


@pytest.fixture
def books(empty_books: Books) -> Books:
    """The database with a small history on both contracts."""
    write_history(str(empty_books.engine.url.render_as_string(hide_password=False)))
    return empty_books


def test_empty_database_passes(empty_books: Books) -> None:
    code, report = empty_books.check()
    assert code == 0, report
    assert "checked example, dmag: 0 problem(s): ok" in report
    assert empty_books.scalar("SELECT count(*) FROM contracts WHERE name = 'dmag'") == 1


def test_history_passes(books: Books) -> None:
    # Per contract: 5 users x 2 contributions, less the 2 contributors' own, and a re-vote.
    assert books.scalar("SELECT count(*) FROM evaluations") == 2 * (5 * 2 - 2 + 1)
    code, report = books.check()
    assert code == 0, report
    assert "0 problem(s)" in report


def test_tampered_balance_names_the_user(books: Books) -> None:
    user = books.scalar(USER.format("max"), contract="example")
    books.sql("UPDATE users SET reputation = reputation + 0.5 WHERE id = :id", id=user)
    code, report = books.check()
    assert code == 1, report
    assert f"(b) reputation (ledger) of user {user}: stored" in report
    assert f"(c) reputation (replay) of user {user}: stored" in report
    assert "FAILED" in report


def test_tampered_tokens_name_the_user(books: Books) -> None:
    user = books.scalar(USER.format("min"), contract="dmag")
    books.sql("UPDATE users SET tokens = tokens - 3 WHERE id = :id", id=user)
    code, report = books.check()
    assert code == 1, report
    assert f"[dmag] (b) tokens (ledger) of user {user}" in report
    code, report = books.check("--contract", "example")  # the other contract is fine
    assert code == 0, report


def test_tampered_total_is_reported(books: Books) -> None:
    books.sql(
        "UPDATE contracts SET total_reputation = total_reputation + 5 WHERE name = 'example'"
    )
    code, report = books.check()
    assert code == 1, report
    assert "[example] (a) stored total reputation" in report
    assert "1 problem(s): FAILED" in report


BALANCES_BOUNDED = "reputation BETWEEN -1e300 AND 1e300 AND tokens BETWEEN -1e15 AND 1e15"
"""The database's limit on a user's balances (migration 0009), on PostgreSQL."""


@pytest.mark.parametrize("empty_books", ["postgresql"], indirect=True)
def test_nan_balance_is_refused_by_the_database(books: Books) -> None:
    """The limit on balances refuses a NaN as it refuses any number beyond 10^15 (SQLite
    stores a NaN as NULL, which the schema refuses too)."""
    user = books.scalar(USER.format("min"), contract="example")
    with pytest.raises(sa.exc.IntegrityError, match="ck_users_balances_bounded"):
        books.sql("UPDATE users SET tokens = 'NaN' WHERE id = :id", id=user)


@pytest.mark.parametrize("empty_books", ["postgresql"], indirect=True)
def test_nan_balance_would_be_reported(books: Books) -> None:
    """Without that limit, check finds the NaN. The limit is dropped for the test and put
    back after it: the database serves the whole session."""
    user = books.scalar(USER.format("min"), contract="example")
    books.sql("ALTER TABLE users DROP CONSTRAINT ck_users_balances_bounded")
    try:
        books.sql("UPDATE users SET tokens = 'NaN' WHERE id = :id", id=user)
        code, report = books.check()
        assert code == 1, report
        assert f"(d) tokens of user {user} is NaN" in report
    finally:
        books.sql("UPDATE users SET tokens = 0 WHERE tokens = 'NaN'")
        books.sql(
            "ALTER TABLE users ADD CONSTRAINT ck_users_balances_bounded"
            f" CHECK ({BALANCES_BOUNDED}) NOT VALID"
        )


def test_duplicate_active_vote_is_refused_by_the_database(books: Books) -> None:
    """(d) holds by construction: the unique partial index refuses a second active vote."""
    with pytest.raises(sa.exc.IntegrityError, match=r"uq_evaluations_active_vote|UNIQUE"):
        books.sql(COPY_ACTIVE_VOTE)
    code, report = books.check()
    assert code == 0, report


@pytest.mark.parametrize("empty_books", ["sqlite"], indirect=True)
def test_duplicate_active_vote_would_be_reported(books: Books) -> None:
    """Without the index, check finds the duplicate. SQLite only: the index is dropped, on a
    database of this test alone (the PostgreSQL one serves the whole session)."""
    books.sql("DROP INDEX uq_evaluations_active_vote")
    pair = "SELECT {} FROM evaluations WHERE active ORDER BY id LIMIT 1"
    contribution = books.scalar(pair.format("contribution_id"))
    evaluator = books.scalar(pair.format("evaluator_id"))
    books.sql(COPY_ACTIVE_VOTE)
    code, report = books.check()
    assert code == 1, report
    expected = f"(d) user {evaluator} has several active votes on contribution {contribution}"
    assert expected in report


@pytest.fixture
def whitepaper1_books(empty_books: Books) -> Books:
    """The same database serving a ``whitepaper1`` contract, with a history of votes and
    re-votes that took from the non-voters (collective losses)."""
    url = empty_books.engine.url.render_as_string(hide_password=False)
    ini = write_ini(empty_books.ini.with_name("whitepaper1.ini"), url, 0, "whitepaper1")
    settings = {"backfeed.contracts": "whitepaper1", "backfeed.dev_admin_token": ADMIN_TOKEN}
    app = main({}, **{"sqlalchemy.url": url, **settings})
    client = admin_client(app)
    try:
        users = [client.post_json("/whitepaper1/users", {}).json["id"] for _ in range(8)]
        contributions = [
            client.post_json("/whitepaper1/contributions", {"contributor_id": u}).json["id"]
            for u in users[:3]
        ]
        for turn in range(3):  # every user votes, then changes its vote twice
            for number, user in enumerate(users[3:]):
                for contribution in contributions:
                    body = {
                        "evaluator_id": user,
                        "contribution_id": contribution,
                        "value": (number + turn) % 2,
                    }
                    client.post_json("/whitepaper1/evaluations", body, status=201)
    finally:
        app.registry["db_engine"].dispose()
    return Books(ini, empty_books.engine, empty_books.backend)


LATEST_LOSS = "(SELECT max(id) FROM ledger WHERE user_id IS NULL)"


def test_whitepaper1_history_passes(whitepaper1_books: Books) -> None:
    books = whitepaper1_books
    assert books.scalar("SELECT count(*) FROM ledger WHERE user_id IS NULL") > 10
    assert books.scalar("SELECT count(*) FROM ledger_exemptions") > 10
    code, report = books.check()
    assert code == 0, report
    assert "checked whitepaper1: 0 problem(s): ok" in report


def test_tampered_collective_scale_is_reported(whitepaper1_books: Books) -> None:
    """A collective entry's scale is what the non-voters' balances are derived from."""
    books = whitepaper1_books
    books.sql(f"UPDATE ledger SET scale = scale * 0.5 WHERE id = {LATEST_LOSS}")
    code, report = books.check()
    assert code == 1, report
    assert "[whitepaper1] (b) reputation (ledger) of user" in report


def test_tampered_collective_loss_is_reported(whitepaper1_books: Books) -> None:
    books = whitepaper1_books
    books.sql(
        f"UPDATE ledger SET reputation_delta = reputation_delta * 2 WHERE id = {LATEST_LOSS}"
    )
    code, report = books.check()
    assert code == 1, report
    assert "[whitepaper1] (b) the collective losses add up to" in report
    assert "(ledger) of user" not in report  # every user's own sums still hold
