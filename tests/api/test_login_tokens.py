"""Login tokens: they expire, their user lists and revokes them (``GET /{contract}/auth/tokens``,
``DELETE /{contract}/auth/tokens/{id}``), and a user holds a bounded number of them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import ApiToken
from protocol import ConfigurationError

from ..conftest import Clock, bearer, issue_token
from .conftest import assert_error, database_state, paging

PASSWORD = "correct horse battery"
SETTINGS = {"backfeed.login_max_tokens": "3"}
ANONYMOUS = {"HTTP_AUTHORIZATION": ""}
ANONYMOUS_HEADERS = {"Authorization": ""}


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    """The application with at most 3 live login tokens per user, as an admin."""
    return make_app(**SETTINGS)


def user_with_login(app: TestApp, username: str, contract: str = "example") -> int:
    """A new user of ``contract`` who may log in as ``username``; its id."""
    body = {"username": username, "password": PASSWORD}
    return app.post_json(f"/{contract}/users", body, status=201).json["id"]


@pytest.fixture
def ann(app: TestApp) -> int:
    return user_with_login(app, "ann")


@pytest.fixture
def bob(app: TestApp) -> int:
    return user_with_login(app, "bob")


def log_in(app: TestApp, username: str, contract: str = "example") -> dict:
    """``POST /{contract}/auth`` without a token: the login answer."""
    body = {"username": username, "password": PASSWORD}
    return app.post_json(f"/{contract}/auth", body, extra_environ=ANONYMOUS, status=201).json


def listed(app: TestApp, token: str) -> list[dict]:
    """The login tokens ``token`` sees."""
    return app.get("/example/auth/tokens", headers=bearer(token), status=200).json["items"]


def works(app: TestApp, token: str) -> bool:
    """Whether ``token`` is accepted (a read that needs no more than a valid token)."""
    return app.get("/example", headers=bearer(token), expect_errors=True).status_int == 200


# -- expiry -----------------------------------------------------------------------------------


def test_the_login_answer_says_when_the_token_expires(app: TestApp, ann: int) -> None:
    body = log_in(app, "ann")
    assert set(body) == {"token", "token_id", "user_id", "role", "contract", "expires_at"}
    assert body["expires_at"] == "2026-01-31T00:00:00Z"  # 30 days after the clock's start


def test_an_expired_login_token_is_refused_everywhere(
    app: TestApp, db: sa.Engine, clock: Clock, ann: int
) -> None:
    token = log_in(app, "ann")["token"]
    other = log_in(app, "ann")
    clock.advance(days=30, seconds=-1)
    assert works(app, token)
    clock.advance(seconds=1)
    before = database_state(db)
    mine = bearer(token)
    for method, path, body in [
        ("GET", "/", None),
        ("GET", "/example", None),
        ("GET", "/example/users", None),
        ("POST", "/example/contributions", {"contributor_id": ann}),
        ("DELETE", "/example/auth", None),
        ("GET", "/example/auth/tokens", None),
        ("DELETE", f"/example/auth/tokens/{other['token_id']}", None),
    ]:
        if body is None:
            refused = app.request(path, method=method, headers=mine, status=401)
        else:
            refused = app.post_json(path, body, headers=mine, status=401)
        assert_error(refused, 401, location="header", name="Authorization")
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert database_state(db) == before
    log_in(app, "ann")  # logging in again gives a fresh token


def test_the_lifetime_is_a_setting(make_app: Callable[..., TestApp], clock: Clock) -> None:
    app = make_app(**{"backfeed.login_token_days": "0.5"})
    user_with_login(app, "ann")
    body = log_in(app, "ann")
    assert body["expires_at"] == "2026-01-01T12:00:00Z"
    clock.advance(hours=12)
    assert not works(app, body["token"])


def test_tokens_made_with_the_cli_do_not_expire(app: TestApp, db: sa.Engine, clock: Clock) -> None:
    token = issue_token(db, "example", "admin")
    clock.advance(days=3650)
    assert works(app, token)


# -- listing ----------------------------------------------------------------------------------


def test_a_user_lists_its_live_login_tokens(
    app: TestApp, db: sa.Engine, clock: Clock, ann: int, bob: int
) -> None:
    first = log_in(app, "ann")
    clock.advance(hours=1)
    second = log_in(app, "ann")
    log_in(app, "bob")
    gone = log_in(app, "ann")
    app.delete("/example/auth", headers=bearer(gone["token"]), status=204)
    issue_token(db, "example", "user", user_id=ann)  # not a login token: not listed
    response = app.get("/example/auth/tokens", headers=bearer(second["token"]), status=200)
    assert response.json == {
        "count": 2,
        "_meta": {"total": 2, "limit": 100, "start": 0},
        "items": [
            {
                "id": first["token_id"],
                "created_at": "2026-01-01T00:00:00Z",
                "expires_at": "2026-01-31T00:00:00Z",
                "current": False,
            },
            {
                "id": second["token_id"],
                "created_at": "2026-01-01T01:00:00Z",
                "expires_at": "2026-01-31T01:00:00Z",
                "current": True,
            },
        ],
    }
    assert response.headers["Cache-Control"] == "no-store"
    with db.connect() as connection:
        hashes = set(connection.scalars(sa.select(ApiToken.token_hash)))
    for secret in (first["token"], second["token"], *hashes):
        assert secret not in response.text
    clock.advance(days=30, minutes=-30)  # the first has expired, the second not yet
    assert [item["id"] for item in listed(app, second["token"])] == [second["token_id"]]


def test_a_user_token_from_the_cli_lists_its_users_login_tokens(
    app: TestApp, db: sa.Engine, ann: int
) -> None:
    login = log_in(app, "ann")
    cli = issue_token(db, "example", "user", user_id=ann)
    assert [(item["id"], item["current"]) for item in listed(app, cli)] == [
        (login["token_id"], False)
    ]


def test_the_list_is_paginated(app: TestApp, ann: int) -> None:
    ids = [log_in(app, "ann")["token_id"] for _ in range(3)]
    mine = bearer(log_in(app, "ann")["token"])  # the fourth: the first is revoked
    page = app.get("/example/auth/tokens?limit=1&start=1", headers=mine, status=200).json
    assert paging(page) == {"total": 3, "limit": 1, "start": 1}
    assert [item["id"] for item in page["items"]] == [ids[2]]
    refused = app.get("/example/auth/tokens?limit=0", headers=mine, status=400)
    assert_error(refused, 400, location="querystring", name="limit")


# -- revoking ---------------------------------------------------------------------------------


def test_a_user_revokes_one_of_its_login_tokens(app: TestApp, ann: int) -> None:
    first, second = log_in(app, "ann"), log_in(app, "ann")
    mine = bearer(second["token"])
    response = app.delete(f"/example/auth/tokens/{first['token_id']}", headers=mine, status=204)
    assert response.body == b""
    assert not works(app, first["token"])
    assert works(app, second["token"])
    assert [item["id"] for item in listed(app, second["token"])] == [second["token_id"]]
    again = app.delete(f"/example/auth/tokens/{first['token_id']}", headers=mine, status=404)
    assert_error(again, 404)


def test_a_user_may_revoke_the_token_it_calls_with(app: TestApp, ann: int) -> None:
    login = log_in(app, "ann")
    path = f"/example/auth/tokens/{login['token_id']}"
    app.delete(path, headers=bearer(login["token"]), status=204)
    assert not works(app, login["token"])


def test_tokens_that_are_not_the_users_own_login_tokens_are_not_found(
    app: TestApp, db: sa.Engine, ann: int, bob: int
) -> None:
    """Another user's token, a token from the CLI (even the user's own), an admin token,
    another contract's token, an id that names nothing: all one 404, and nothing changes."""
    mine = bearer(log_in(app, "ann")["token"])
    bobs = log_in(app, "bob")
    user_with_login(app, "dora", "dmag")
    doras = log_in(app, "dora", "dmag")
    issue_token(db, "example", "user", user_id=ann)
    issue_token(db, "example", "admin")
    with db.connect() as connection:
        cli_ids = list(connection.scalars(sa.select(ApiToken.id).where(ApiToken.origin == "cli")))
    before = database_state(db)
    for token_id in [bobs["token_id"], doras["token_id"], *cli_ids, 999_999, 2**63 - 1]:
        refused = app.delete(f"/example/auth/tokens/{token_id}", headers=mine, status=404)
        assert_error(refused, 404)
    for path in ("/example/auth/tokens/abc", "/example/auth/tokens/-1", "/example/auth/tokens/"):
        app.delete(path, headers=mine, status=404)
    assert database_state(db) == before
    assert works(app, bobs["token"])


@pytest.mark.parametrize("role", ["admin", "read"])
def test_only_a_user_token_has_login_tokens(
    app: TestApp, db: sa.Engine, ann: int, role: str
) -> None:
    login = log_in(app, "ann")
    token = bearer(issue_token(db, "example", role))
    before = database_state(db)
    refused = app.get("/example/auth/tokens", headers=token, status=403)
    assert_error(refused, 403)
    path = f"/example/auth/tokens/{login['token_id']}"
    assert_error(app.delete(path, headers=token, status=403), 403)
    assert_error(app.delete(path, headers=ANONYMOUS_HEADERS, status=401), 401)
    assert_error(app.get("/example/auth/tokens", headers=ANONYMOUS_HEADERS, status=401), 401)
    assert database_state(db) == before
    assert works(app, login["token"])


# -- how many ---------------------------------------------------------------------------------


def test_a_new_login_past_the_limit_revokes_the_oldest(
    app: TestApp, clock: Clock, ann: int, bob: int
) -> None:
    logins = []
    for _ in range(3):
        logins.append(log_in(app, "ann"))
        clock.advance(minutes=1)
    bobs = log_in(app, "bob")
    fourth = log_in(app, "ann")
    assert not works(app, logins[0]["token"])
    assert all(works(app, login["token"]) for login in [*logins[1:], fourth, bobs])
    assert [item["id"] for item in listed(app, fourth["token"])] == [
        login["token_id"] for login in [*logins[1:], fourth]
    ]


def test_expired_and_revoked_tokens_do_not_count(app: TestApp, clock: Clock, ann: int) -> None:
    old = [log_in(app, "ann") for _ in range(2)]
    app.delete("/example/auth", headers=bearer(old[1]["token"]), status=204)
    clock.advance(days=31)  # the first has expired
    fresh = [log_in(app, "ann") for _ in range(3)]
    assert all(works(app, login["token"]) for login in fresh)


def test_the_default_limit_is_ten(make_app: Callable[..., TestApp]) -> None:
    app = make_app()
    user_with_login(app, "ann")
    logins = [log_in(app, "ann") for _ in range(11)]
    assert not works(app, logins[0]["token"])
    assert len(listed(app, logins[-1]["token"])) == 10


@pytest.mark.parametrize(
    "settings",
    [
        {"backfeed.login_token_days": "0"},
        {"backfeed.login_token_days": "36501"},
        {"backfeed.login_token_days": "soon"},
        {"backfeed.login_max_tokens": "0"},
        {"backfeed.login_max_tokens": "2.5"},
    ],
)
def test_bad_token_settings_stop_the_start(
    make_app: Callable[..., TestApp], settings: dict[str, str]
) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(settings))):
        make_app(**settings)
