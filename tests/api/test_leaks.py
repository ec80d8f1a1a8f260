"""Nothing leaks: no answer, good or bad, shows a setting, the database URL, a token (but the
one answer that creates it), a password, a password hash or a stack trace."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from webtest import TestApp, TestResponse

from backfeed_api.domain import contributions
from backfeed_api.models import UserLogin

from ..conftest import bearer, issue_token

DEV_TOKEN = "leak-canary-development-token"
PASSWORD = "leak-canary-password"
SETTING_VALUE = "leak-canary-setting"
SETTINGS = {
    "backfeed.dev_admin_token": DEV_TOKEN,
    "backfeed.login_max_failures": "2",
    "backfeed.idempotency_hours": "24",
    "leak.canary": SETTING_VALUE,
}


@dataclass
class Sweep:
    """An application, the secrets it holds, and every answer it gave."""

    app: TestApp
    db: sa.Engine
    url: str
    secrets: set[str]
    answers: list[TestResponse]
    created_tokens: list[str]

    def send(self, method: str, path: str, body: object = None, **headers: str) -> TestResponse:
        """One request without the default credential; its answer is kept for the checks."""
        anonymous = {"HTTP_AUTHORIZATION": ""}
        if method == "POST" and isinstance(body, dict):
            response = self.app.post_json(
                path, body, headers=headers, extra_environ=anonymous, status="*"
            )
        elif method == "POST":
            response = self.app.post(
                path, body or b"", headers=headers, extra_environ=anonymous, status="*"
            )
        else:
            call = getattr(self.app, method.lower())
            response = call(path, headers=headers, extra_environ=anonymous, status="*")
        self.answers.append(response)
        return response


def url_parts(url: str) -> set[str]:
    """The database URL and its telling pieces: the file, the host and port, the name."""
    parsed = sa.make_url(url)
    parts = {url, parsed.render_as_string(hide_password=False), parsed.drivername}
    if parsed.database:
        parts.add(parsed.database)
    if parsed.host:
        parts.add(f"{parsed.host}:{parsed.port or 5432}")
    return {part for part in parts if part and len(part) > 4}


@pytest.fixture
def sweep(make_app: Callable[..., TestApp], database_url: str) -> Sweep:
    """Drive the application through good and bad requests of every kind."""
    app = make_app(**SETTINGS)
    db = app.app.registry["db_engine"]
    s = Sweep(app, db, database_url, {DEV_TOKEN, PASSWORD, SETTING_VALUE}, [], [])
    admin = {"Authorization": f"Bearer {DEV_TOKEN}"}
    # Good requests, by every kind of credential.
    ann = s.send(
        "POST", "/example/users", {"username": "ann", "password": PASSWORD}, **admin
    ).json["id"]
    other = s.send("POST", "/example/users", {"tokens": 5}, **admin).json["id"]
    login = s.send("POST", "/example/auth", {"username": "ann", "password": PASSWORD})
    s.created_tokens.append(login.json["token"])
    mine = bearer(login.json["token"])
    s.send("POST", "/example/contributions", {"contributor_id": other}, **admin)
    s.send("POST", "/example/contributions", {"contributor_id": ann}, **mine)
    vote = {"evaluator_id": ann, "contribution_id": 1, "value": 1}  # on the other's
    assert s.send("POST", "/example/evaluations", vote, **mine).status_int == 201
    for path in (
        "/",
        "/__api__",
        "/example",
        "/example/users",
        f"/example/users/{ann}",
        f"/example/users/{ann}/history",
        "/example/contributions",
        "/example/contributions/1",
        "/example/evaluations",
    ):
        s.send("GET", path)
        s.send("GET", path, **mine)
    read = issue_token(db, "example", "read")
    stored = issue_token(db, "example", "admin")
    s.secrets |= {read, stored}
    # Bad requests: 400, 401, 403, 404, 405, 415, 429.
    s.send("POST", "/example/users", {"reputation": "lots"}, **admin)
    s.send("POST", "/example/users", {"username": "ann", "password": PASSWORD}, **admin)
    s.send("POST", "/example/users", b"{not json", **{**admin, "Content-Type": "application/json"})
    s.send("POST", "/example/users", {})
    s.send("POST", "/example/users", {}, Authorization=f"Bearer {DEV_TOKEN}x")
    s.send("POST", "/example/users", {}, Authorization=f"Basic {DEV_TOKEN}")
    s.send("POST", "/example/users", {}, **bearer(read))
    s.send("POST", "/example/users", {"tokens": 1e9}, **mine)
    s.send("POST", "/example/contributions", {"contributor_id": ann + 1}, **mine)
    s.send("POST", "/dmag/users", {}, **bearer(stored))
    s.send("DELETE", "/example/auth", **bearer(read))
    s.send("DELETE", "/example/auth", **admin)
    s.send("GET", "/example/users/999")
    s.send("GET", "/nowhere/users")
    s.send("PUT", "/example/users", **admin)
    s.send("POST", "/example/users", b"x", **{**admin, "Content-Type": "text/plain"})
    for password in ("wrong", "wrong again", PASSWORD):  # the third is throttled: 429
        s.send("POST", "/example/auth", {"username": "ann", "password": password})
    s.send("POST", "/example/auth", {"username": "nobody", "password": PASSWORD})
    s.send("DELETE", "/example/auth", **mine)
    s.send("GET", "/example/users", **mine)  # revoked: 401
    return s


def password_hashes(db: sa.Engine) -> set[str]:
    """Every stored password hash, whole and its salt and digest parts."""
    with db.connect() as connection:
        stored = set(connection.scalars(sa.select(UserLogin.password_hash)))
    return stored | {part for value in stored for part in value.split("$")[-2:]}


def test_statuses_of_the_sweep(sweep: Sweep) -> None:
    """The sweep met every kind of answer it means to check."""
    assert {response.status_int for response in sweep.answers} >= {
        200,
        201,
        204,
        400,
        401,
        403,
        404,
        405,
        415,
        429,
    }


def test_no_answer_shows_a_secret(sweep: Sweep) -> None:
    hashes = password_hashes(sweep.db)
    token_hashes = {hashlib.sha256(token.encode()).hexdigest() for token in sweep.secrets}
    forbidden = (
        sweep.secrets
        | hashes
        | token_hashes
        | url_parts(sweep.url)
        | {"sqlalchemy.url", "backfeed.dev_admin_token", "leak.canary", "scrypt$"}
    )
    shown_times = dict.fromkeys(sweep.created_tokens, 0)
    for response in sweep.answers:
        shown = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headerlist)
        for secret in forbidden:
            assert secret not in shown, (response.request.path, secret)
        for token in shown_times:
            if token in shown:  # only by the login that made it
                assert response.request.path == "/example/auth"
                assert response.request.method == "POST"
                assert response.status_int == 201
                assert response.headers["Cache-Control"] == "no-store"
                shown_times[token] += 1
        lowered = shown.lower()
        for trace in ("traceback", 'file "', "sqlalchemy", "psycopg", "<html"):
            assert trace not in lowered, (response.request.path, trace)
    assert set(shown_times.values()) == {1}, "each token is shown once"


def test_an_unexpected_failure_shows_nothing(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash whose message holds secrets answers a bare 500."""
    secret = f"{sweep.url} {DEV_TOKEN} {PASSWORD}"

    def crash(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(contributions, "create_contribution", crash)
    response = sweep.send(
        "POST",
        "/example/contributions",
        {"contributor_id": 1},
        Authorization=f"Bearer {DEV_TOKEN}",
    )
    assert response.status_int == 500
    assert response.json == {
        "status": "error",
        "errors": [
            {
                "location": "",
                "name": "",
                "description": "internal error; it has been logged",
                "code": "internal",
            }
        ],
    }


def test_the_openapi_document_shows_no_setting(sweep: Sweep) -> None:
    document = sweep.send("GET", "/__api__").text
    for secret in (DEV_TOKEN, SETTING_VALUE, *url_parts(sweep.url)):
        assert secret not in document
