"""The authorization matrix: every route of the Cornice services, every kind of credential.

The routes are read from the Cornice services, so a new route fails
:func:`test_every_route_is_in_the_matrix` until its row is written below
(:func:`test_a_route_missing_from_the_matrix_fails` shows it). Each cell is one
request with the expected status; a refused request (and every read) must leave every row of
every table as it was. The same reads are checked again with ``backfeed.public_reads`` off.

The columns, the credential each request carries:

- ``none``: no ``Authorization`` header;
- ``read``: a ``read`` token of ``example``;
- ``own`` / ``other``: a ``user`` token of ``example`` bound to Ann, the request naming Ann
  (``own``) or Bob (``other``) as the user it acts as or reads;
- ``admin``: an ``admin`` token of ``example``;
- ``foreign``: an ``admin`` token of the ``dmag`` contract (invalid in ``example``: 401);
- ``revoked``: an ``admin`` token of ``example``, revoked;
- ``dev``: the development token of the settings (admin of every contract, service-wide).

``PUT /{contract}`` names a new contract in each cell (the ``foreign`` admin of ``dmag`` is
then no token of it: a 403, as any but a service-wide token); ``PATCH /example`` sets a
new value each time, so an accepted one makes a version.

An expired login token of Ann is refused on every route as the revoked token is
(:func:`test_an_expired_login_token_is_refused_as_a_revoked_one`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from cornice import Service
from pyramid.security import NO_PERMISSION_REQUIRED
from webtest import TestApp, TestResponse

from backfeed_api import main
from backfeed_api.api.responses import services
from backfeed_api.auth.credentials import token_digest
from backfeed_api.models import ApiToken
from backfeed_api.worker import context_for
from backfeed_api.worker.replays import ReplayRunner

from ..conftest import (
    ADMIN_TOKEN,
    START,
    TEST_SETTINGS,
    Clock,
    bearer,
    issue_token,
    reset_database,
)
from .conftest import assert_error, database_state

COLUMNS = ("none", "read", "own", "other", "admin", "foreign", "revoked", "dev")

# fmt: off
# (service, method):         none read own other admin foreign revoked dev
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("service", "GET"):        (200, 200, 200, 200, 200, 200, 401, 200),
    ("openapi", "GET"):        (200, 200, 200, 200, 200, 200, 401, 200),
    ("contract", "GET"):       (200, 200, 200, 200, 200, 401, 401, 200),
    ("contract", "PATCH"):     (401, 403, 403, 403, 200, 401, 401, 200),
    ("contract", "PUT"):       (401, 403, 403, 403, 403, 403, 401, 201),
    ("contract_versions", "GET"): (200, 200, 200, 200, 200, 401, 401, 200),
    ("users", "GET"):          (200, 200, 200, 200, 200, 401, 401, 200),
    ("users", "POST"):         (401, 403, 403, 403, 201, 401, 401, 201),
    ("user", "GET"):           (200, 200, 200, 200, 200, 401, 401, 200),
    ("user_history", "GET"):   (200, 200, 200, 200, 200, 401, 401, 200),
    ("stats", "GET"):          (200, 200, 200, 200, 200, 401, 401, 200),
    ("leaderboard", "GET"):    (200, 200, 200, 200, 200, 401, 401, 200),
    ("dashboard", "GET"):      (200, 200, 200, 200, 200, 401, 401, 200),
    ("dashboard_user", "GET"): (200, 200, 200, 200, 200, 401, 401, 200),
    ("ledger_entry", "GET"):   (200, 200, 200, 200, 200, 401, 401, 200),
    ("contributions", "GET"):  (200, 200, 200, 200, 200, 401, 401, 200),
    ("contributions", "POST"): (401, 403, 201, 403, 201, 401, 401, 201),
    ("contribution", "GET"):   (200, 200, 200, 200, 200, 401, 401, 200),
    ("evaluations", "GET"):    (200, 200, 200, 200, 200, 401, 401, 200),
    ("evaluations", "POST"):   (401, 403, 201, 403, 201, 401, 401, 201),
    ("evaluation_batch", "POST"): (401, 403, 201, 403, 201, 401, 401, 201),
    ("evaluation", "GET"):     (200, 200, 200, 200, 200, 401, 401, 200),
    ("auth", "POST"):          (201, 201, 201, 201, 201, 201, 201, 201),
    ("auth", "DELETE"):        (401, 403, 204, 204, 204, 401, 401, 403),
    ("login_tokens", "GET"):   (401, 403, 200, 200, 403, 401, 401, 403),
    ("login_token", "DELETE"): (401, 403, 204, 404, 403, 401, 401, 403),
    ("events", "GET"):         (200, 200, 200, 200, 200, 401, 401, 200),
    ("webhooks", "GET"):       (401, 403, 403, 403, 200, 401, 401, 200),
    ("webhooks", "POST"):      (401, 403, 403, 403, 201, 401, 401, 201),
    ("webhook", "GET"):        (401, 403, 403, 403, 200, 401, 401, 200),
    ("webhook", "PATCH"):      (401, 403, 403, 403, 200, 401, 401, 200),
    ("webhook", "DELETE"):     (401, 403, 403, 403, 204, 401, 401, 204),
    ("webhook_deliveries", "GET"): (401, 403, 403, 403, 200, 401, 401, 200),
    ("replays", "GET"):        (401, 403, 403, 403, 200, 401, 401, 200),
    ("replays", "POST"):       (401, 403, 403, 403, 202, 401, 401, 202),
    ("replay", "GET"):         (401, 403, 403, 403, 200, 401, 401, 200),
    ("replay_users", "GET"):   (401, 403, 403, 403, 200, 401, 401, 200),
    ("replay_plot", "GET"):    (401, 403, 403, 403, 200, 401, 401, 200),
}
"""HEAD answers as GET does, without a body."""

# With backfeed.public_reads = false, the reads of a contract need one of its tokens.
PRIVATE_READS: dict[tuple[str, str], tuple[int, ...]] = {
    ("service", "GET"):        (200, 200, 200, 200, 200, 200, 401, 200),
    ("openapi", "GET"):        (200, 200, 200, 200, 200, 200, 401, 200),
    ("contract", "GET"):       (401, 200, 200, 200, 200, 401, 401, 200),
    ("contract_versions", "GET"): (401, 200, 200, 200, 200, 401, 401, 200),
    ("users", "GET"):          (401, 200, 200, 200, 200, 401, 401, 200),
    ("user", "GET"):           (401, 200, 200, 200, 200, 401, 401, 200),
    ("user_history", "GET"):   (401, 200, 200, 200, 200, 401, 401, 200),
    ("stats", "GET"):          (401, 200, 200, 200, 200, 401, 401, 200),
    ("leaderboard", "GET"):    (401, 200, 200, 200, 200, 401, 401, 200),
    ("dashboard", "GET"):      (200, 200, 200, 200, 200, 401, 401, 200),
    ("dashboard_user", "GET"): (200, 200, 200, 200, 200, 401, 401, 200),
    ("ledger_entry", "GET"):   (401, 200, 200, 200, 200, 401, 401, 200),
    ("contributions", "GET"):  (401, 200, 200, 200, 200, 401, 401, 200),
    ("contribution", "GET"):   (401, 200, 200, 200, 200, 401, 401, 200),
    ("evaluations", "GET"):    (401, 200, 200, 200, 200, 401, 401, 200),
    ("evaluation", "GET"):     (401, 200, 200, 200, 200, 401, 401, 200),
    ("login_tokens", "GET"):   (401, 403, 200, 200, 403, 401, 401, 403),
    ("events", "GET"):         (401, 200, 200, 200, 200, 401, 401, 200),
    ("webhooks", "GET"):       (401, 403, 403, 403, 200, 401, 401, 200),
    ("webhook", "GET"):        (401, 403, 403, 403, 200, 401, 401, 200),
    ("webhook_deliveries", "GET"): (401, 403, 403, 403, 200, 401, 401, 200),
    ("replays", "GET"):        (401, 403, 403, 403, 200, 401, 401, 200),
    ("replay", "GET"):         (401, 403, 403, 403, 200, 401, 401, 200),
    ("replay_users", "GET"):   (401, 403, 403, 403, 200, 401, 401, 200),
    ("replay_plot", "GET"):    (401, 403, 403, 403, 200, 401, 401, 200),
}
# fmt: on

PASSWORD = "a long secret of hers"
FRESH = itertools.count(1)
"""Numbers for the contracts the PUT cells create and the values the PATCH cells set."""
HOOK_URL = "http://127.0.0.1:9/hook"  # never called: no worker runs here


def served_routes(service_list: list[Service]) -> list[tuple[str, str]]:
    """Every (service, method) of ``service_list``, HEAD included."""
    return sorted({(s.name, method) for s in service_list for method, _, _ in s.definitions})


ROUTES = served_routes(services())
"""Every (service, method) the application serves, HEAD included."""


def row(table: dict[tuple[str, str], tuple[int, ...]], name: str, method: str) -> tuple:
    """The expected statuses of a route; HEAD answers as GET."""
    return table[(name, "GET" if method == "HEAD" else method)]


def matrix_gaps(routes: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The routes without a row in :data:`MATRIX` (or, for a read, in
    :data:`PRIVATE_READS`), and the rows of routes that are not served."""
    served = {(name, "GET" if method == "HEAD" else method) for name, method in routes}
    reads = {key for key in served if key[1] == "GET"}
    return (served ^ set(MATRIX)) | (reads ^ set(PRIVATE_READS))


def test_every_route_is_in_the_matrix() -> None:
    assert matrix_gaps(ROUTES) == set(), "add the new route's row to MATRIX"
    assert all(len(statuses) == len(COLUMNS) for statuses in MATRIX.values())


def test_a_route_missing_from_the_matrix_fails(throwaway: Service) -> None:
    """A new route is read from the Cornice services: until its rows are written, it is a
    gap of the matrix."""
    assert matrix_gaps(served_routes(services())) == {("throwaway", "GET")}


def test_every_view_declares_its_permission() -> None:
    """No view relies on the default permission (admin), which is only a safety net."""
    for service in services():
        for method, _, args in service.definitions:
            permission = args.get("permission")
            assert permission is not None, (service.name, method)
            if permission == NO_PERMISSION_REQUIRED:
                assert (service.name, method) == ("auth", "POST")


@dataclass
class Matrix:
    """The applications (reads public and private) on one database, and the data they serve."""

    public: TestApp
    private: TestApp
    db: sa.Engine
    ann: int
    bob: int
    contribution: int
    evaluation: int
    entry: int
    replay: str | None = None
    """The path of a replay that is done, made by the first cell that needs one."""


def login(username: str) -> dict[str, str]:
    """The username and password of a user of the matrix."""
    return {"username": username, "password": PASSWORD}


def login_token(m: Matrix, username: str) -> dict:
    """A fresh login of ``username``: the answer of ``POST /example/auth``."""
    return m.public.post_json("/example/auth", login(username), status=201).json


def admin_post(app: TestApp, path: str, body: dict) -> dict:
    """A write with the development token, to set up a cell."""
    return app.post_json(path, body, headers=bearer(ADMIN_TOKEN), status=201).json


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(request: pytest.FixtureRequest) -> Iterator[Matrix]:
    """Both applications on an emptied database, with Ann (who has a login) and Bob."""
    url = request.getfixturevalue(f"{request.param}_url")
    apps = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
        engine = sa.create_engine(url)
        reset_database(engine)
        engine.dispose()
        for public in ("true", "false"):
            settings = {**TEST_SETTINGS, "backfeed.public_reads": public}
            wsgi = main({}, **{"sqlalchemy.url": url, **settings})
            wsgi.registry["clock"] = Clock()
            apps.append(wsgi)
    public, private = (TestApp(wsgi) for wsgi in apps)
    ann = admin_post(public, "/example/users", {"tokens": 1e6, "reputation": 100, **login("ann")})
    bob = admin_post(public, "/example/users", {"tokens": 1e6, "reputation": 100, **login("bob")})
    work = admin_post(public, "/example/contributions", {"contributor_id": bob["id"]})
    vote = admin_post(
        public,
        "/example/evaluations",
        {"evaluator_id": ann["id"], "contribution_id": work["id"], "value": 1},
    )
    db = apps[0].registry["db_engine"]
    entry = public.get(f"/example/users/{ann['id']}/history").json["items"][0]["id"]
    yield Matrix(public, private, db, ann["id"], bob["id"], work["id"], vote["id"], entry)
    for wsgi in apps:
        wsgi.registry["db_engine"].dispose()


def credential(m: Matrix, column: str) -> dict[str, str]:
    """The headers of a fresh credential of ``column`` (fresh: a logout revokes it)."""
    if column == "none":
        return {}
    if column == "dev":
        return bearer(ADMIN_TOKEN)
    if column == "read":
        return bearer(issue_token(m.db, "example", "read"))
    if column in ("own", "other"):
        return bearer(issue_token(m.db, "example", "user", user_id=m.ann))
    if column == "foreign":
        return bearer(issue_token(m.db, "dmag", "admin"))
    if column == "expired":
        token = login_token(m, "ann")["token"]
        with m.db.begin() as connection:
            connection.execute(
                sa.update(ApiToken)
                .where(ApiToken.token_hash == token_digest(token))
                .values(expires_at=START)  # the applications' clocks stand at START
            )
        return bearer(token)
    token = issue_token(m.db, "example", "admin")
    if column == "revoked":
        with m.db.begin() as connection:
            connection.execute(
                sa.update(ApiToken)
                .where(ApiToken.token_hash == token_digest(token))
                .values(revoked_at=sa.func.current_timestamp())
            )
    return bearer(token)


def request_for(m: Matrix, name: str, method: str, column: str) -> tuple[str, Any]:
    """The path and body of the cell's request: a valid one, naming Bob for ``other`` and
    Ann otherwise."""
    user = m.bob if column == "other" else m.ann
    if name in ("evaluations", "evaluation_batch"):  # a contribution not voted on yet
        work = admin_post(m.public, "/example/contributions", {"contributor_id": m.bob})
        vote = {"evaluator_id": user, "contribution_id": work["id"], "value": 1}
        if name == "evaluations":
            return "/example/evaluations", vote
        return "/example/evaluations/batch", {"evaluations": [vote]}
    requests: dict[tuple[str, str], tuple[str, Any]] = {
        ("service", "GET"): ("/", None),
        ("openapi", "GET"): ("/__api__", None),
        ("contract", "GET"): ("/example", None),
        ("contract_versions", "GET"): ("/example/versions", None),
        ("users", "GET"): ("/example/users", None),
        ("users", "POST"): ("/example/users", {"reputation": 1000, "tokens": 1000}),
        ("user", "GET"): (f"/example/users/{user}", None),
        ("user_history", "GET"): (f"/example/users/{user}/history", None),
        ("stats", "GET"): ("/example/stats", None),
        ("leaderboard", "GET"): ("/example/leaderboard", None),
        ("dashboard", "GET"): ("/example/dashboard", None),
        ("dashboard_user", "GET"): (f"/example/dashboard/users/{user}", None),
        ("ledger_entry", "GET"): (f"/example/ledger/{m.entry}", None),
        ("contributions", "GET"): ("/example/contributions", None),
        ("contributions", "POST"): ("/example/contributions", {"contributor_id": user}),
        ("contribution", "GET"): (f"/example/contributions/{m.contribution}", None),
        ("evaluations", "GET"): ("/example/evaluations", None),
        ("evaluation", "GET"): (f"/example/evaluations/{m.evaluation}", None),
        ("auth", "POST"): ("/example/auth", login("ann")),
        ("auth", "DELETE"): ("/example/auth", None),
        ("login_tokens", "GET"): ("/example/auth/tokens", None),
        ("events", "GET"): ("/example/events", None),
        ("webhooks", "GET"): ("/example/webhooks", None),
        ("webhooks", "POST"): ("/example/webhooks", {"url": HOOK_URL}),
        ("replays", "GET"): ("/example/replays", None),
        ("replays", "POST"): ("/example/replays", {"parameters": {"article.stake": 0.05}}),
    }
    if name in REPLAY_OUTPUTS:
        return done_replay(m) + REPLAY_OUTPUTS[name], None
    if name in ("webhook", "webhook_deliveries"):  # a webhook of its own: DELETE removes it
        hook = admin_post(m.public, "/example/webhooks", {"url": HOOK_URL})
        suffix = "/deliveries" if name == "webhook_deliveries" else ""
        body = {"description": "changed"} if method == "PATCH" else None
        return f"/example/webhooks/{hook['id']}{suffix}", body
    if (name, method) == ("contract", "PUT"):
        return f"/made{next(FRESH)}", {"kind": "example", "parameters": {"beta": 0.5}}
    if (name, method) == ("contract", "PATCH"):
        return "/example", {"parameters": {"referral_timeframe_days": 30 + next(FRESH)}}
    if (name, method) == ("login_token", "DELETE"):  # Ann's login token, or Bob's
        token_id = login_token(m, "bob" if column == "other" else "ann")["token_id"]
        return f"/example/auth/tokens/{token_id}", None
    return requests[(name, "GET" if method == "HEAD" else method)]


REPLAY_OUTPUTS = {"replay": "", "replay_users": "/users.csv", "replay_plot": "/plot.png"}


def done_replay(m: Matrix) -> str:
    """The path of a replay of ``example`` that the worker has run."""
    if m.replay is None:
        response = m.public.post_json(
            "/example/replays", {"parameters": {}}, headers=bearer(ADMIN_TOKEN), status=202
        )
        registry = m.public.app.registry
        ReplayRunner(context_for(registry, registry.settings))()
        m.replay = f"/example/replays/{response.json['id']}"
    return m.replay


def send(
    app: TestApp, method: str, path: str, body: Any, headers: dict, status: int
) -> TestResponse:
    """One request of the matrix, answered with ``status``."""
    if method in ("POST", "PATCH", "PUT"):
        send_json = getattr(app, f"{method.lower()}_json")
        return send_json(path, body, headers=headers, status=status)
    return getattr(app, method.lower())(path, headers=headers, status=status)


def check_cell(
    m: Matrix, app: TestApp, name: str, method: str, column: str, status: int
) -> TestResponse:
    """Send the cell's request; a refusal or a read must change no row of any table. The
    response."""
    headers = credential(m, column)
    path, body = request_for(m, name, method, column)
    before = database_state(m.db)
    response = send(app, method, path, body, headers, status)
    after = database_state(m.db)
    if status >= 400 or method in ("GET", "HEAD"):
        assert after == before, f"{method} {path} as {column} changed the database"
    else:
        assert after != before, f"{method} {path} as {column} changed nothing"
    if status >= 400 and method != "HEAD":
        assert_error(response, status)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    return response


CELLS = [
    pytest.param(name, method, column, id=f"{name}-{method}-{column}")
    for name, method in ROUTES
    for column in COLUMNS
    if (name, "GET" if method == "HEAD" else method) in MATRIX
]


@pytest.mark.parametrize(("name", "method", "column"), CELLS)
def test_cell(matrix: Matrix, name: str, method: str, column: str) -> None:
    status = row(MATRIX, name, method)[COLUMNS.index(column)]
    check_cell(matrix, matrix.public, name, method, column, status)


@pytest.mark.parametrize(("name", "method"), ROUTES)
def test_an_expired_login_token_is_refused_as_a_revoked_one(
    matrix: Matrix, name: str, method: str
) -> None:
    status = row(MATRIX, name, method)[COLUMNS.index("revoked")]
    response = check_cell(matrix, matrix.public, name, method, "expired", status)
    if status == 401:
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("name", "method", "column"),
    [cell for cell in CELLS if cell.values[1] in ("GET", "HEAD")],
)
def test_cell_with_private_reads(matrix: Matrix, name: str, method: str, column: str) -> None:
    status = row(PRIVATE_READS, name, method)[COLUMNS.index(column)]
    check_cell(matrix, matrix.private, name, method, column, status)


def test_writes_are_refused_alike_with_private_reads(matrix: Matrix) -> None:
    """Turning public reads off changes nothing for writes: a sample of refused writes."""
    for column in ("none", "read", "other", "foreign", "revoked"):
        status = MATRIX[("contributions", "POST")][COLUMNS.index(column)]
        check_cell(matrix, matrix.private, "contributions", "POST", column, status)


def test_a_user_token_sets_no_balance_even_in_a_form(matrix: Matrix) -> None:
    """The mass-assignment hole: a user token creating a rich user, JSON or form, is 403."""
    headers = credential(matrix, "own")
    before = database_state(matrix.db)
    for send_body in (matrix.public.post_json, matrix.public.post):
        response = send_body(
            "/example/users", {"reputation": 1e9, "tokens": 1e9}, headers=headers, status=403
        )
        assert_error(response, 403, location="header", name="Authorization")
    assert database_state(matrix.db) == before


def test_a_user_token_acting_as_another_blames_the_field(matrix: Matrix) -> None:
    headers = credential(matrix, "other")
    path, body = request_for(matrix, "contributions", "POST", "other")
    form = {key: str(value) for key, value in body.items()}
    response = matrix.public.post(path, form, headers=headers, status=403)
    assert_error(response, 403, location="body", name="contributor_id")


def test_malformed_credentials_are_401(matrix: Matrix) -> None:
    before = database_state(matrix.db)
    for header in ("Bearer", "Bearer ", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer a b", "Token x"):
        response = matrix.public.post_json(
            "/example/users", {}, headers={"Authorization": header}, status=401
        )
        assert_error(response, 401, location="header", name="Authorization")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert database_state(matrix.db) == before


def test_the_scheme_is_case_insensitive(matrix: Matrix) -> None:
    token = issue_token(matrix.db, "example", "read")
    matrix.private.get("/example", headers={"Authorization": f"bearer {token}"}, status=200)
