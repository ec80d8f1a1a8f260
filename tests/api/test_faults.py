"""Database faults on the WSGI application (SQLite and PostgreSQL): a request whose commit
fails gets one JSON error, and the requests after it, on the same thread, are served.

WebTest runs every request on the test's own thread, so "the same thread" is certain here;
the same faults against real servers are in ``tests/concurrency/test_faults.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import User
from tests.conftest import count

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
