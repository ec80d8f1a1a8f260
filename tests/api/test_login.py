"""``POST /{contract}/auth`` (log in) and ``DELETE /{contract}/auth`` (log out), the logins an
admin gives users, and the slowdown of password guessing."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.auth import credentials
from backfeed_api.models import ApiToken, LoginFailure, User, UserLogin
from protocol import ConfigurationError

from ..conftest import Clock, bearer, count
from .conftest import assert_error, database_state
from .test_waitress import TIMEOUT, serving

PASSWORD = "correct horse battery"
LIMITS = {
    "backfeed.login_max_failures": "3",
    "backfeed.login_max_failures_per_username": "8",
    "backfeed.login_max_failures_per_address": "5",
    "backfeed.login_window_seconds": "60",
}
HERE = {"REMOTE_ADDR": "192.0.2.1"}
THERE = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    """The application with small login limits, as an admin."""
    return make_app(**LIMITS)


@pytest.fixture
def ann(app: TestApp) -> int:
    """A user of ``example`` who may log in as ``ann``."""
    body = {"username": "ann", "password": PASSWORD, "tokens": 10}
    return app.post_json("/example/users", body, status=201).json["id"]


def log_in(app: TestApp, username: str, password: str, status: int, **extra) -> dict:
    """``POST /example/auth`` without a token; the answer's JSON."""
    body = {"username": username, "password": password}
    anonymous = {"HTTP_AUTHORIZATION": "", **extra.pop("extra_environ", {})}
    return app.post_json(
        "/example/auth", body, status=status, extra_environ=anonymous, **extra
    ).json


def test_log_in_returns_a_user_token(app: TestApp, ann: int) -> None:
    response = app.post_json(
        "/example/auth",
        {"username": "ann", "password": PASSWORD},
        extra_environ={"HTTP_AUTHORIZATION": ""},
        status=201,
    )
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"token", "token_id", "user_id", "role", "contract", "expires_at"}
    assert body["user_id"] == ann
    assert body["role"] == "user"
    assert body["contract"] == "example"
    assert len(body["token"]) >= 43
    mine = bearer(body["token"])
    app.post_json("/example/contributions", {"contributor_id": ann}, headers=mine, status=201)


def test_the_token_is_stored_only_as_its_hash(app: TestApp, db: sa.Engine, ann: int) -> None:
    token = log_in(app, "ann", PASSWORD, 201)["token"]
    with db.connect() as connection:
        stored = connection.execute(sa.select(ApiToken)).one()
        everything = repr(database_state(db))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.role == "user"
    assert stored.user_id == ann
    assert stored.origin == "login"
    assert token not in everything


def test_a_form_body_logs_in_too(app: TestApp, ann: int) -> None:
    response = app.post(
        "/example/auth",
        {"username": "ann", "password": PASSWORD},
        extra_environ={"HTTP_AUTHORIZATION": ""},
        status=201,
    )
    assert response.json["user_id"] == ann


def test_a_stale_authorization_header_is_ignored(app: TestApp, ann: int) -> None:
    stale = {"Authorization": "Bearer revoked-long-ago"}
    body = {"username": "ann", "password": PASSWORD}
    app.post_json("/example/auth", body, headers=stale, status=201)


def test_wrong_password_and_unknown_user_get_the_same_401(
    app: TestApp, db: sa.Engine, ann: int
) -> None:
    answers = []
    for username, password in (("ann", "wrong password"), ("nobody", PASSWORD)):
        response = app.post_json(
            "/example/auth",
            {"username": username, "password": password},
            extra_environ={"HTTP_AUTHORIZATION": ""},
            status=401,
        )
        assert_error(response, 401, location="body")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="backfeed"'
        answers.append(response.body)
    assert answers[0] == answers[1]
    assert count(db, ApiToken) == 0


def test_an_unknown_user_costs_one_scrypt_like_a_known_one(
    app: TestApp, ann: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same work for both refusals, so their time does not tell them apart."""
    credentials.dummy_password_hash()  # computed once per process, before counting
    calls: list[tuple[int, int, int]] = []
    real = hashlib.scrypt

    def counting(password: bytes, **options) -> bytes:
        calls.append((options["n"], options["r"], options["p"]))
        return real(password, **options)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    log_in(app, "ann", "wrong password", 401)
    log_in(app, "nobody", "wrong password", 401)
    assert calls == [(2**14, 8, 1), (2**14, 8, 1)]


def test_a_user_of_another_contract_cannot_log_in_here(app: TestApp) -> None:
    body = {"username": "dora", "password": PASSWORD}
    app.post_json("/dmag/users", body, status=201)
    log_in(app, "dora", PASSWORD, 401)
    token = app.post_json("/dmag/auth", body, status=201).json["token"]
    app.get("/example/users", headers=bearer(token), status=401)
    app.get("/dmag/users", headers=bearer(token), status=200)


def test_log_out_revokes_the_token(app: TestApp, db: sa.Engine, ann: int) -> None:
    mine = bearer(log_in(app, "ann", PASSWORD, 201)["token"])
    response = app.delete("/example/auth", headers=mine, status=204)
    assert response.body == b""
    with db.connect() as connection:
        assert connection.scalar(sa.select(ApiToken.revoked_at)) is not None
    refused = app.post_json(
        "/example/contributions", {"contributor_id": ann}, headers=mine, status=401
    )
    assert_error(refused, 401, location="header", name="Authorization")
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    app.get("/example/users", headers=mine, status=401)
    app.delete("/example/auth", headers=mine, status=401)
    # Another login gives another, working token.
    again = bearer(log_in(app, "ann", PASSWORD, 201)["token"])
    app.post_json("/example/contributions", {"contributor_id": ann}, headers=again, status=201)


def test_a_logged_in_user_may_not_create_users(app: TestApp, ann: int) -> None:
    mine = bearer(log_in(app, "ann", PASSWORD, 201)["token"])
    refused = app.post_json("/example/users", {}, headers=mine, status=403)
    assert_error(refused, 403)


# -- logins given by an admin -----------------------------------------------------------------


def test_the_user_document_shows_no_login(app: TestApp, ann: int) -> None:
    for user in (app.get(f"/example/users/{ann}").json, *app.get("/example/users").json["items"]):
        assert set(user) == {
            "id",
            "tokens",
            "reputation",
            "reputation_normalized",
            "total_reputation",
            "created_at",
        }


def test_passwords_are_stored_as_salted_scrypt(app: TestApp, db: sa.Engine, ann: int) -> None:
    app.post_json("/example/users", {"username": "twin", "password": PASSWORD}, status=201)
    with db.connect() as connection:
        hashes = list(connection.scalars(sa.select(UserLogin.password_hash)))
    assert len(hashes) == 2
    assert hashes[0] != hashes[1]  # the same password, another salt
    for stored in hashes:
        assert stored.startswith("scrypt$16384$8$1$")
        assert PASSWORD not in stored
        assert credentials.verify_password(PASSWORD, stored)
        assert not credentials.verify_password(PASSWORD + "!", stored)


def test_usernames_are_unique_in_a_contract(app: TestApp, db: sa.Engine, ann: int) -> None:
    before = database_state(db)
    body = {"username": "ann", "password": "another secret"}
    refused = app.post_json("/example/users", body, status=400)
    assert_error(refused, 400, location="body", name="username")
    assert database_state(db) == before
    app.post_json("/dmag/users", body, status=201)


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"username": "solo"}, "password"),
        ({"password": "no name at all"}, "username"),
        ({"username": "short", "password": "1234567"}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "with space", "password": PASSWORD}, "username"),
        ({"username": "x" * 101, "password": PASSWORD}, "username"),
        ({"username": 7, "password": PASSWORD}, "username"),
        ({"username": "ok", "password": "p" * 1025}, "password"),
    ],
)
def test_bad_logins_are_refused(app: TestApp, db: sa.Engine, body: dict, name: str) -> None:
    refused = app.post_json("/example/users", body, status=400)
    assert_error(refused, 400, location="body", name=name)
    assert count(db, UserLogin) == 0


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", "at least 10 characters"),
        ("password", "at least 10 characters"),
        ("nine-char", "at least 10 characters"),
        ("qwertyuiop", "too common"),
        ("1234567890", "too common"),
        ("Password123", "too common"),
        ("ann-rules-2026", "may not contain the username"),
        ("my ANN password", "may not contain the username"),
    ],
)
def test_weak_passwords_are_refused(
    app: TestApp, db: sa.Engine, password: str, reason: str
) -> None:
    for send in (app.post_json, app.post):  # JSON and form bodies alike
        refused = send("/example/users", {"username": "ann", "password": password}, status=400)
        [error] = assert_error(refused, 400, location="body", name="password")
        assert reason in error["description"]
        assert password.casefold() not in error["description"].casefold()
    assert count(db, UserLogin) == 0
    assert count(db, User) == 0


def test_a_password_of_ten_characters_that_is_not_common_is_accepted(app: TestApp) -> None:
    app.post_json("/example/users", {"username": "ann", "password": "tangerine7"}, status=201)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x" * 101, "password": PASSWORD},
        {"username": "ann", "password": "p" * 1025},
        {"username": "", "password": PASSWORD},
        {"username": "ann", "password": ""},
    ],
)
def test_a_login_too_long_for_the_columns_is_refused(
    app: TestApp, db: sa.Engine, ann: int, body: dict
) -> None:
    before = database_state(db)
    refused = app.post_json(
        "/example/auth", body, extra_environ={"HTTP_AUTHORIZATION": ""}, status=400
    )
    assert_error(refused, 400, location="body")
    assert database_state(db) == before


# -- slowing down guessing --------------------------------------------------------------------


def test_repeated_failures_for_a_username_are_slowed_down(
    app: TestApp, db: sa.Engine, clock: Clock, ann: int
) -> None:
    for _ in range(3):
        log_in(app, "ann", "guess", 401)
    assert count(db, LoginFailure) == 3  # counted although the answer was an error
    # Now even the right password waits: the answer must not tell a guesser it was right.
    response = app.post_json(
        "/example/auth",
        {"username": "ann", "password": PASSWORD},
        extra_environ={"HTTP_AUTHORIZATION": ""},
        status=429,
    )
    assert_error(response, 429)
    assert int(response.headers["Retry-After"]) == 60
    assert count(db, LoginFailure) == 3  # a throttled attempt is not counted
    clock.advance(seconds=30)
    response = app.post_json(
        "/example/auth",
        {"username": "ann", "password": PASSWORD},
        extra_environ={"HTTP_AUTHORIZATION": ""},
        status=429,
    )
    assert int(response.headers["Retry-After"]) == 30
    clock.advance(seconds=31)
    log_in(app, "ann", PASSWORD, 201)
    assert count(db, LoginFailure) == 0  # success clears the username's count


def test_an_unknown_username_is_slowed_down_alike(app: TestApp, ann: int) -> None:
    for _ in range(3):
        log_in(app, "nobody", "guess", 401)
    log_in(app, "nobody", "guess", 429)
    log_in(app, "ann", PASSWORD, 201)  # another username is not held up


def test_repeated_failures_from_one_address_are_slowed_down(
    app: TestApp, clock: Clock, ann: int
) -> None:
    here = {"REMOTE_ADDR": "192.0.2.1"}
    for number in range(5):
        log_in(app, f"user{number}", "guess", 401, extra_environ=here)
    log_in(app, "ann", PASSWORD, 429, extra_environ=here)
    log_in(app, "ann", PASSWORD, 201, extra_environ={"REMOTE_ADDR": "192.0.2.2"})
    clock.advance(seconds=61)
    log_in(app, "ann", PASSWORD, 201, extra_environ=here)


def test_old_failures_are_pruned(app: TestApp, db: sa.Engine, clock: Clock, ann: int) -> None:
    log_in(app, "nobody", "guess", 401)
    log_in(app, "somebody", "guess", 401)
    clock.advance(seconds=61)
    log_in(app, "anybody", "guess", 401)
    assert count(db, LoginFailure) == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"backfeed.login_max_failures": "0"},
        {"backfeed.login_max_failures_per_address": "many"},
        {"backfeed.login_max_failures_per_username": "0"},
        {"backfeed.login_window_seconds": "-5"},
        {"backfeed.login_window_seconds": "inf"},
        {"backfeed.login_window_seconds": "nan"},
        {"backfeed.login_window_seconds": "1e11"},
        {"backfeed.dev_admin_token": "has a space"},
    ],
)
def test_bad_security_settings_stop_the_start(
    make_app: Callable[..., TestApp], settings: dict[str, str]
) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(settings))):
        make_app(**settings)


def test_failures_from_one_address_do_not_lock_the_owner_out(app: TestApp, ann: int) -> None:
    for _ in range(3):
        log_in(app, "ann", "guess", 401, extra_environ=HERE)
    log_in(app, "ann", PASSWORD, 429, extra_environ=HERE)
    log_in(app, "ann", PASSWORD, 201, extra_environ=THERE)
    log_in(app, "ann", PASSWORD, 429, extra_environ=HERE)  # the guesser's address still waits


def test_guesses_spread_over_addresses_meet_the_per_username_limit(
    app: TestApp, db: sa.Engine, clock: Clock, ann: int
) -> None:
    for number in range(8):
        clock.advance(seconds=1)
        log_in(app, "ann", "guess", 401, extra_environ={"REMOTE_ADDR": f"203.0.113.{number}"})
    response = app.post_json(
        "/example/auth",
        {"username": "ann", "password": PASSWORD},
        extra_environ={"HTTP_AUTHORIZATION": "", "REMOTE_ADDR": "198.51.100.200"},
        status=429,
    )
    assert_error(response, 429)
    assert int(response.headers["Retry-After"]) == 60 - 8 + 1  # until the first guess is old
    assert count(db, LoginFailure) == 8
    clock.advance(seconds=60 - 8 + 1)
    log_in(app, "ann", PASSWORD, 201, extra_environ={"REMOTE_ADDR": "198.51.100.200"})


def test_over_a_lowered_limit_retry_after_waits_until_the_count_is_below_it(
    make_app: Callable[..., TestApp], clock: Clock
) -> None:
    """More failures than the limit are in the window when the limit was lowered: the wait
    lasts until enough of them have left it, not merely the oldest."""
    app = make_app(**LIMITS)
    for number in range(8):
        log_in(app, "ann", "guess", 401, extra_environ={"REMOTE_ADDR": f"203.0.113.{number}"})
        clock.advance(seconds=1)
    lowered = make_app(**{**LIMITS, "backfeed.login_max_failures_per_username": "4"})
    response = lowered.post_json(
        "/example/auth",
        {"username": "ann", "password": PASSWORD},
        extra_environ={"HTTP_AUTHORIZATION": "", "REMOTE_ADDR": "198.51.100.200"},
        status=429,
    )
    # The failures were at 0 to 7 s, now is 8 s: 4 remain once the one at 4 s is 60 s old.
    assert int(response.headers["Retry-After"]) == 4 + 60 - 8


def test_a_success_clears_only_the_failures_of_its_address(
    app: TestApp, db: sa.Engine, ann: int
) -> None:
    log_in(app, "ann", "guess", 401, extra_environ=HERE)
    log_in(app, "ann", "guess", 401, extra_environ=THERE)
    log_in(app, "ann", PASSWORD, 201, extra_environ=HERE)
    with db.connect() as connection:
        left = list(connection.scalars(sa.select(LoginFailure.address)))
    assert left == [THERE["REMOTE_ADDR"]]


# -- the client address -----------------------------------------------------------------------


def stored_addresses(db: sa.Engine) -> list[str | None]:
    """The client addresses of the recorded failures, oldest first."""
    with db.connect() as connection:
        return list(connection.scalars(sa.select(LoginFailure.address).order_by(LoginFailure.id)))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%" + "z" * 200, "fe80::1"),
        ("x" * 101, None),
        ("1.2.3.4.5", None),
        ("192.0.2.1:8080", None),
        ("01.2.3.4", None),
        ("", None),
    ],
)
def test_the_client_address_is_stored_as_an_ip_address_or_not_at_all(
    app: TestApp, db: sa.Engine, given: str, stored: str | None
) -> None:
    log_in(app, "nobody", "guess", 401, extra_environ={"REMOTE_ADDR": given})
    assert stored_addresses(db) == [stored]


def test_failures_of_unreadable_addresses_are_counted_together(app: TestApp, ann: int) -> None:
    """A guesser cannot escape the strict limit by sending a new unreadable address each
    time; such addresses are one unknown client."""
    for number in range(3):
        log_in(app, "ann", "guess", 401, extra_environ={"REMOTE_ADDR": f"junk{number}"})
    log_in(app, "ann", PASSWORD, 429, extra_environ={"REMOTE_ADDR": "junk-again"})
    log_in(app, "ann", PASSWORD, 201, extra_environ=HERE)


@pytest.mark.parametrize(
    ("forwarded", "stored"),
    [
        ("a" * 101, None),
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9", "203.0.113.9"),
    ],
)
def test_the_address_forwarded_by_the_trusted_proxy(
    app: TestApp, db: sa.Engine, forwarded: str, stored: str | None
) -> None:
    """Through waitress configured as production.ini configures it: the proxy's
    ``X-Forwarded-For`` becomes the client address, and a bad one is no 500."""
    proxy = {
        "trusted_proxy": "127.0.0.1",
        "trusted_proxy_headers": "x-forwarded-for",
        "clear_untrusted_proxy_headers": True,
    }
    body = json.dumps({"username": "nobody", "password": "guess"})
    with serving(app.app, **proxy) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            connection.request(
                "POST",
                "/example/auth",
                body=body,
                headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded},
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
        finally:
            connection.close()
    assert response.status == 401, answer
    assert answer["status"] == "error"
    assert stored_addresses(db) == [stored]
