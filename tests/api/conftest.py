"""Fixtures of the HTTP API tests: a small client, the error-shape check, database snapshots.

The ``app``, ``clock``, ``db`` and ``make_app`` fixtures come from ``tests/conftest.py``; each
test here runs once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from cornice import Service
from cornice.service import SERVICES
from webtest import TestApp, TestResponse

from backfeed_api import main
from backfeed_api.errors import CODES
from backfeed_api.models import Base

from ..conftest import (
    ADMIN_TOKEN,
    TEST_SETTINGS,
    Clock,
    admin_client,
    bearer,
    reset_database,
)

ERROR_KEYS = {"location", "name", "description", "code"}
# Nothing an error body may ever show: markup, a traceback, the database or its settings.
LEAKS = ("<html", "<!doctype", "traceback", "sqlalchemy", "sqlite", "postgresql", "psycopg")


class Api:
    """The three writes and the reads of the published API, on a test client."""

    def __init__(self, app: TestApp) -> None:
        self.app = app

    def user(self, contract: str = "example", *, status: int = 201, **fields: Any) -> dict:
        """``POST /{contract}/users`` with a JSON body; the created user."""
        return self.app.post_json(f"/{contract}/users", fields, status=status).json

    def contribution(
        self,
        contributor_id: int,
        contract: str = "example",
        *,
        type: str | None = None,
        status: int = 201,
    ) -> dict:
        """``POST /{contract}/contributions``; the created contribution."""
        body: dict[str, Any] = {"contributor_id": contributor_id}
        if type is not None:
            body["type"] = type
        return self.app.post_json(f"/{contract}/contributions", body, status=status).json

    def vote(
        self,
        evaluator_id: int,
        contribution_id: int,
        value: Any,
        contract: str = "example",
        *,
        status: int = 201,
    ) -> dict:
        """``POST /{contract}/evaluations``; the standing evaluation."""
        body = {"evaluator_id": evaluator_id, "contribution_id": contribution_id, "value": value}
        return self.app.post_json(f"/{contract}/evaluations", body, status=status).json

    def get(self, path: str, status: int = 200, **params: Any) -> dict:
        """A GET answered with ``status``; its JSON body."""
        return self.app.get(path, params=params, status=status).json

    def items(self, path: str, **params: Any) -> list[dict]:
        """The items of one page of a collection."""
        return self.get(path, **params)["items"]

    def ids(self, path: str, **params: Any) -> list[int]:
        """The ids of one page of a collection, in order."""
        return [item["id"] for item in self.items(path, **params)]


@pytest.fixture(scope="module")
def admin_token() -> str:
    """The bearer token of an admin of the test contracts (the test apps' development admin
    token), for tests that make a request "with a token" explicitly."""
    return ADMIN_TOKEN


@pytest.fixture(scope="module")
def credentials(admin_token: str) -> dict[str, str]:
    """Headers that make a request an admin's: what the hostile-input tests send, so that
    their requests reach validation rather than stop at authentication."""
    return bearer(admin_token)


@pytest.fixture
def api(app: TestApp) -> Api:
    """The client helper on the test application."""
    return Api(app)


def assert_error(
    response: TestResponse,
    status: int,
    *,
    location: str | None = None,
    name: str | None = None,
) -> list[dict]:
    """Check a response is the JSON error document with ``status``; return its errors.

    ``location`` and ``name``, when given, must be those of one of the errors.
    """
    assert response.status_int == status, response.text
    assert response.content_type == "application/json"
    body = response.json
    assert set(body) == {"status", "errors"}
    assert body["status"] == "error"
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert set(error) == ERROR_KEYS
        assert all(isinstance(error[key], str) for key in ERROR_KEYS)
        assert error["description"]
        assert error["code"] in CODES, error
    assert any(CODES[e["code"]].status == status for e in errors), errors
    if location is not None or name is not None:
        assert any(
            (location is None or e["location"] == location) and (name is None or e["name"] == name)
            for e in errors
        ), errors
    text = response.text.lower()
    for leak in LEAKS:
        assert leak not in text, response.text
    return errors


def database_state(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                )
            ]
            for table in Base.metadata.sorted_tables
        }


@contextmanager
def keeps_database(engine: sa.Engine) -> Iterator[None]:
    """Fail if the block changes any row of the database."""
    before = database_state(engine)
    assert any(before[name] for name in ("users", "ledger")), "snapshot of an empty database"
    yield
    assert database_state(engine) == before


@pytest.fixture
def unchanged(db: sa.Engine) -> Callable[[], AbstractContextManager[None]]:
    """``with unchanged(): ...`` fails if the block changes any row of the database."""
    return lambda: keeps_database(db)


@dataclass(frozen=True)
class Served:
    """An application shared by the tests of one module, with its engine and client."""

    app: TestApp
    db: sa.Engine
    api: Api
    clock: Clock

    def unchanged(self) -> AbstractContextManager[None]:
        """Fail if the block changes any row of the database."""
        return keeps_database(self.db)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """One application per database for a whole module: building the application and its
    data once keeps the module fast. Its tests must not depend on each other's writes.

    A module using it must not use the function-scoped ``app`` as well, whose set-up empties
    the database under it.
    """
    url = request.getfixturevalue(f"{request.param}_url")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
        engine = sa.create_engine(url)
        reset_database(engine)
        engine.dispose()
        wsgi = main({}, **{"sqlalchemy.url": url, **TEST_SETTINGS})
    clock = wsgi.registry["clock"] = Clock()
    app = admin_client(wsgi)
    yield Served(app, wsgi.registry["db_engine"], Api(app), clock)
    wsgi.registry["db_engine"].dispose()


@contextmanager
def counting_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends to the database while the block runs (an
    ``executemany`` counts once: it is one round of the driver)."""
    executed: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        executed.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def throwaway() -> Iterator[Service]:
    """A new route added the wrong way: a Cornice service whose view declares neither its
    responses nor its permission, registered as the view modules register theirs, and
    removed afterwards."""
    service = Service(name="throwaway", path="/{contract}/throwaway")
    service.add_view("GET", lambda request: {})
    yield service
    SERVICES.remove(service)
