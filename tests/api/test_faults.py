"""Database faults on the WSGI application (SQLite and PostgreSQL): a request whose commit
fails gets one JSON error, and the requests after it, on the same thread, are served.

WebTest runs every request on the test's own thread, so "the same thread" is certain here;
the same faults against real servers are in ``tests/concurrency/test_faults.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import User
from tests.conftest import bearer, count, issue_token

from .conftest import assert_error


class InjectedFault(RuntimeError):
    """The failure a test makes the database's COMMIT raise."""


@pytest.fixture
def failing_commits(db: sa.Engine) -> Iterator[list[int]]:
    """Make the next COMMITs fail: append to the list how many (it counts down)."""
    remaining: list[int] = []

    def commit(connection) -> None:
        if remaining and remaining[0] > 0:
            remaining[0] -= 1
            raise InjectedFault("the commit failed")

    sa.event.listen(db, "commit", commit)
    yield remaining
    sa.event.remove(db, "commit", commit)


def test_a_failed_commit_answers_500_and_the_next_request_works(
    app: TestApp, db: sa.Engine, failing_commits: list[int]
) -> None:
    failing_commits.append(1)
    failed = app.post_json("/example/users", {}, status=500)
    assert_error(failed, 500)
    assert count(db, User) == 0
    # The same thread, at once: a read, then writes that commit.
    assert app.get("/", status=200).json["contracts"]
    for _ in range(3):
        app.post_json("/example/users", {}, status=201)
    assert count(db, User) == 3


def test_failed_commits_in_a_row_never_poison_the_thread(
    app: TestApp, db: sa.Engine, failing_commits: list[int]
) -> None:
    failing_commits.append(20)
    for _ in range(20):
        assert_error(app.post_json("/example/users", {}, status=500), 500)
    assert app.post_json("/example/users", {}, status=201).json["id"]
    assert count(db, User) == 1


# -- a database out of reach, and connections lost -------------------------------------------


def assert_unavailable(response) -> None:
    """A 503 in the error shape that says when to try again."""
    assert_error(response, 503)
    assert int(response.headers["Retry-After"]) > 0


def test_a_database_out_of_reach_answers_503(app: TestApp, db: sa.Engine) -> None:
    refusals: list[int] = []

    def refuse(dialect, record, cargs, cparams):
        refusals.append(1)
        raise dialect.loaded_dbapi.OperationalError("connection refused")

    token = issue_token(db, "example", "admin")
    db.dispose()  # every request needs a new connection
    sa.event.listen(db, "do_connect", refuse)
    try:
        assert_unavailable(app.get("/example", status=503))
        assert_unavailable(app.post_json("/example/users", {}, status=503))
        # A stored token is looked up in the database too, inside the JSON error handling.
        assert_unavailable(app.get("/example/users", headers=bearer(token), status=503))
    finally:
        sa.event.remove(db, "do_connect", refuse)
    assert refusals
    app.post_json("/example/users", {}, status=201)  # back: served with no manual step


POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def terminate_backend(engine: sa.Engine, pid: int) -> None:
    """Terminate the PostgreSQL backend ``pid`` (as an administrator would), and wait for it."""
    admin = sa.create_engine(engine.url, poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            done = connection.scalar(sa.select(sa.func.pg_terminate_backend(pid, 5000)))
        assert done
    finally:
        admin.dispose()


@POSTGRESQL_ONLY
@pytest.mark.parametrize(("attempts", "status"), [("3", 201), ("1", 503)])
def test_a_connection_lost_before_the_commit_is_tried_again(
    make_app: Callable[..., TestApp], attempts: str, status: int
) -> None:
    """Nothing of the request was applied: it runs again on a new connection and succeeds,
    unless ``retry.attempts`` allows a single attempt."""
    app = make_app(**{"retry.attempts": attempts})
    db = app.app.registry["db_engine"]
    killed: list[int] = []

    def kill_on_insert(connection, cursor, statement, *args) -> None:
        if statement.startswith("INSERT INTO users") and not killed:
            killed.append(connection.connection.dbapi_connection.info.backend_pid)
            terminate_backend(db, killed[0])

    sa.event.listen(db, "before_cursor_execute", kill_on_insert)
    try:
        answer = app.post_json("/example/users", {}, status=status)
    finally:
        sa.event.remove(db, "before_cursor_execute", kill_on_insert)
    assert len(killed) == 1
    if status == 503:
        assert_unavailable(answer)
        assert count(db, User) == 0
    else:
        assert count(db, User) == 1
        assert answer.json["id"] == app.get("/example/users").json["items"][0]["id"]


@POSTGRESQL_ONLY
def test_a_connection_lost_at_the_commit_answers_503(app: TestApp, db: sa.Engine) -> None:
    """The outcome is the client's to find out: a 503 once, not a retry behind its back."""
    commits: list[int] = []

    def kill_before_commit(connection) -> None:
        commits.append(1)
        if len(commits) == 1:
            terminate_backend(db, connection.connection.dbapi_connection.info.backend_pid)

    sa.event.listen(db, "commit", kill_before_commit)
    try:
        assert_unavailable(app.post_json("/example/users", {}, status=503))
        assert len(commits) == 1
        assert count(db, User) == 0  # the COMMIT never reached the server
        app.post_json("/example/users", {}, status=201)
    finally:
        sa.event.remove(db, "commit", kill_before_commit)
    assert count(db, User) == 1


# -- every failure point answers in the JSON error shape -------------------------------------


class Boom(RuntimeError):
    """A failure injected where the service might fail."""


def boom(*args, **kwargs):
    raise Boom("injected")


CORS = {"backfeed.cors_origins": "https://app.example.org"}


@dataclass(frozen=True)
class FailurePoint:
    """Where a failure is injected (``attribute`` of ``target`` raises), and a request that
    passes there: a POST of ``body`` to ``path``, to an application with ``settings``."""

    target: str
    attribute: str
    path: str = "/example/users"
    body: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


FAILURE_POINTS = {
    "request-factory": FailurePoint("backfeed_api.pipeline.ingress", "screen_body"),
    "ingress-tween": FailurePoint("backfeed_api.pipeline.ingress", "url_problem"),
    "cors-tween": FailurePoint("backfeed_api.pipeline.cors", "is_preflight", settings=CORS),
    "transaction-begin": FailurePoint(
        "backfeed_api.models.session.RequestTransactionManager", "begin"
    ),
    "token-lookup": FailurePoint("backfeed_api.auth.policy", "find_identity"),
    "idempotency-claim": FailurePoint("backfeed_api.pipeline.idempotency", "_try_lock"),
    "view": FailurePoint("backfeed_api.domain.users", "create_user"),
    "commit": FailurePoint("zope.sqlalchemy.datamanager.SessionDataManager", "tpc_vote"),
    "abort": FailurePoint(
        "zope.sqlalchemy.datamanager.SessionDataManager",
        "abort",
        "/example/contributions",
        {"contributor_id": 10**6},  # a 400 after reading the database: aborted
    ),
    "response-headers": FailurePoint("backfeed_api.pipeline.headers", "must_not_be_stored"),
}


@pytest.mark.parametrize("point", list(FAILURE_POINTS))
def test_a_failure_anywhere_is_answered_in_json(
    point: str, make_app: Callable[..., TestApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever the service fails while it answers, from reading the request to the headers
    of its answer, the client gets the JSON error shape (and the security headers)."""
    where = FAILURE_POINTS[point]
    app = make_app(**where.settings)
    token = issue_token(app.app.registry["db_engine"], "example", "admin")
    headers = {**bearer(token), "Idempotency-Key": "k", "Origin": "https://app.example.org"}
    monkeypatch.setattr(f"{where.target}.{where.attribute}", boom)
    response = app.post_json(where.path, where.body, headers=headers, expect_errors=True)
    monkeypatch.undo()
    assert_error(response, 500)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    app.post_json("/example/users", {}, status=201)  # and the next request is served
