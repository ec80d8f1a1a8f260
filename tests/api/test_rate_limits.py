"""Rate limits: logins, writes and reads counted per client (its user or token, else its address),
refused with a JSON 429 and ``Retry-After``, announced in the ``RateLimit`` header fields,
counted in Redis across applications, and failing open when Redis is gone.

The test applications have rate limits off (``TEST_SETTINGS``); the ones here turn them on,
in Redis (``redis_url``) under a key prefix of their own, so that no two tests share a count.
"""

from __future__ import annotations

import configparser
import logging
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import http_sf
import pytest
import sqlalchemy as sa
from pyramid_retry import mark_error_retryable
from webtest import TestApp, TestResponse

from backfeed_api.domain import users
from backfeed_api.models import ApiToken, LoginFailure, User
from backfeed_api.pipeline.addresses import parse_address
from backfeed_api.pipeline.ratelimits import address_key
from backfeed_api.settings import rate_limits
from protocol import ConfigurationError

from ..concurrency.servers import free_port
from ..conftest import ADMIN_TOKEN, count, issue_token
from .conftest import assert_error, bearer, database_state

LIMITS = {
    "backfeed.rate_limits": "true",
    "backfeed.rate_limit_logins": "3/minute",
    "backfeed.rate_limit_writes": "4/minute",
    "backfeed.rate_limit_reads": "5/minute",
}
HERE, THERE = "192.0.2.1", "192.0.2.2"
PASSWORD = "a long enough password"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def build(make_app: Callable[..., TestApp], redis_url: str) -> Callable[..., TestApp]:
    """``build(**settings)``: an application with the limits above counted in Redis, all
    built by one test sharing one key prefix (so one count)."""
    prefix = f"test-{uuid.uuid4().hex}"

    def build_app(**settings: str) -> TestApp:
        return make_app(
            **{
                **LIMITS,
                "backfeed.rate_limit_storage_url": redis_url,
                "backfeed.rate_limit_key_prefix": prefix,
                **settings,
            }
        )

    return build_app


@pytest.fixture
def limited(build: Callable[..., TestApp]) -> TestApp:
    """The application with small limits, its client sending the admin token."""
    return build()


@pytest.fixture
def engine(limited: TestApp) -> sa.Engine:
    """The limited application's engine, to look at the database directly."""
    return limited.app.registry["db_engine"]


def client(app: TestApp, address: str = HERE, token: str | None = None) -> TestApp:
    """A client of ``app``'s application from ``address``, with ``token`` or no token."""
    environ = {"REMOTE_ADDR": address}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return TestApp(app.app, extra_environ=environ)


def fields(response: TestResponse) -> dict[str, tuple[str, dict[str, int]]]:
    """The ``RateLimit-Policy`` and ``RateLimit`` fields, parsed as the draft defines them (a
    List of one Item whose value is a String, with Integer parameters)."""
    parsed = {}
    for name in ("RateLimit-Policy", "RateLimit"):
        (item,) = http_sf.parse(response.headers[name].encode("ascii"), tltype="list")
        value, parameters = item
        assert type(value) is str, response.headers[name]  # a String, not a Token
        assert all(type(number) is int and number >= 0 for number in parameters.values())
        parsed[name] = (value, parameters)
    return parsed


def left(response: TestResponse) -> int:
    """The requests left, from the ``RateLimit`` field."""
    return fields(response)["RateLimit"][1]["r"]


def refused(response: TestResponse, limit: str) -> int:
    """Check a 429 of ``limit``: the JSON error, ``Retry-After`` within the window and equal
    to the ``RateLimit`` field's ``t``, nothing left; return ``Retry-After``."""
    errors = assert_error(response, 429)
    assert limit in errors[0]["description"]
    retry_after = int(response.headers["Retry-After"])
    policy, status = fields(response)["RateLimit-Policy"], fields(response)["RateLimit"]
    assert policy[0] == status[0] == limit
    assert 1 <= retry_after <= policy[1]["w"]
    assert status[1] == {"r": 0, "t": retry_after}
    assert response.headers["Cache-Control"] == "no-store"
    return retry_after


def user_with_login(app: TestApp, username: str = "ann") -> int:
    """A user of ``example`` who can log in with :data:`PASSWORD`, made by the admin."""
    body = {"username": username, "password": PASSWORD}
    return app.post_json("/example/users", body, status=201).json["id"]


# -- the headers ------------------------------------------------------------------------------


def test_every_answer_announces_the_limit_and_what_is_left(limited: TestApp) -> None:
    anonymous = client(limited)
    first = anonymous.get("/example", status=200)
    assert fields(first) == {
        "RateLimit-Policy": ("reads", {"q": 5, "w": 60}),
        "RateLimit": ("reads", {"r": 4, "t": 60}),
    }
    missing = anonymous.get("/example/users/99", status=404)  # errors count and say so
    assert left(missing) == 3
    assert 1 <= fields(missing)["RateLimit"][1]["t"] <= 60
    created = limited.post_json("/example/users", {}, status=201)
    assert fields(created) == {
        "RateLimit-Policy": ("writes", {"q": 4, "w": 60}),
        "RateLimit": ("writes", {"r": 3, "t": 60}),
    }


def test_no_limit_no_header(app: TestApp) -> None:
    """The test applications have limits off: nothing is counted, nothing announced."""
    response = app.get("/example", status=200)
    assert "RateLimit" not in response.headers
    assert "RateLimit-Policy" not in response.headers


# -- per address, per token -------------------------------------------------------------------


def test_anonymous_reads_are_limited_per_address(limited: TestApp) -> None:
    here, there = client(limited, HERE), client(limited, THERE)
    assert [left(here.get("/example/users", status=200)) for _ in range(5)] == [4, 3, 2, 1, 0]
    refused(here.get("/example/users", status=429), "reads")
    refused(here.get("/", status=429), "reads")  # every read route counts alike
    assert left(there.get("/example/users", status=200)) == 4


def test_each_method_counts_against_its_limit(limited: TestApp) -> None:
    here = client(limited, HERE)
    names = [
        fields(response)["RateLimit"][0]
        for response in (
            here.head("/example", status=200),
            here.options("/example", status=405),
            here.get("/example/nowhere", status=404),
            here.post_json("/example/users", {}, status=401),
            here.delete("/example/auth", status=401),
            here.put_json("/example/users", {}, status=405),
            here.post_json("/example/auth", {"username": "ann", "password": "x"}, status=401),
        )
    ]
    assert names == ["reads", "reads", "reads", "writes", "writes", "writes", "logins"]


def test_unknown_contracts_are_counted_and_refused_like_any_read(limited: TestApp) -> None:
    """A flood of made-up contract names is a flood of reads: charged, then refused."""
    here = client(limited, HERE)
    missing = [here.get(f"/no-such-{number}/users", status=404) for number in range(5)]
    assert [left(response) for response in missing] == [4, 3, 2, 1, 0]
    refused(here.get("/no-such-5/users", status=429), "reads")
    writer = client(limited, THERE)
    assert left(writer.post_json("/no-such-6/users", {}, status=404)) == 3


def test_an_ipv6_client_is_counted_by_its_64_network(limited: TestApp) -> None:
    for number in range(5):
        client(limited, f"2001:db8:1:2::{number + 1}").get("/", status=200)
    refused(client(limited, "2001:db8:1:2:ffff::9").get("/", status=429), "reads")
    assert left(client(limited, "2001:db8:1:3::1").get("/", status=200)) == 4


def test_address_keys() -> None:
    assert address_key(parse_address("192.0.2.1")) == "192.0.2.1"
    assert address_key(parse_address("2001:DB8:1:2:3:4:5:6")) == "2001:db8:1:2::/64"
    assert address_key(parse_address("::ffff:192.0.2.1")) == "192.0.2.1"
    assert address_key(parse_address("")) == ""
    assert address_key(parse_address("not an address")) == ""


def test_writes_are_limited_per_token_not_per_address(
    limited: TestApp, engine: sa.Engine, admin_token: str
) -> None:
    other = issue_token(engine, "example", "admin")
    mine, theirs = client(limited, HERE, admin_token), client(limited, HERE, other)
    for _ in range(4):
        mine.post_json("/example/users", {}, status=201)
    refused(mine.post_json("/example/users", {}, status=429), "writes")
    assert left(theirs.post_json("/example/users", {}, status=201)) == 3  # same address
    # Anywhere else, the token is still the client that is over its limit.
    anywhere = client(limited, THERE, admin_token)
    refused(anywhere.post_json("/example/users", {}, status=429), "writes")
    assert count(engine, User) == 5


def test_every_token_of_one_user_is_one_client(limited: TestApp, engine: sa.Engine) -> None:
    """A user who logs in again, or holds several tokens, gets no fresh count with each."""
    ann, bob = user_with_login(limited, "ann"), user_with_login(limited, "bob")
    tokens = [issue_token(engine, "example", "user", user_id=ann) for _ in range(3)]
    for number in range(5):
        token = tokens[number % len(tokens)]
        assert left(client(limited, HERE, token).get("/example", status=200)) == 4 - number
    refused(client(limited, THERE, tokens[0]).get("/example", status=429), "reads")
    refused(client(limited, HERE, tokens[2]).get("/example", status=429), "reads")
    bobs = issue_token(engine, "example", "user", user_id=bob)
    assert left(client(limited, HERE, bobs).get("/example", status=200)) == 4


def test_the_development_token_is_one_client_however_it_is_written(limited: TestApp) -> None:
    spellings = [f"Bearer {ADMIN_TOKEN}", f"bearer {ADMIN_TOKEN}", f"Bearer  {ADMIN_TOKEN} "]
    remaining = [
        left(limited.get("/example", headers={"Authorization": header}, status=200))
        for header in spellings
    ]
    assert remaining == [4, 3, 2]


def test_reads_with_a_token_are_its_own_not_the_address(
    limited: TestApp, engine: sa.Engine
) -> None:
    token = issue_token(engine, "example", "read")
    anonymous = client(limited, HERE)
    for _ in range(5):
        anonymous.get("/example", status=200)
    refused(anonymous.get("/example", status=429), "reads")
    assert left(client(limited, HERE, token).get("/example", status=200)) == 4


def test_a_refused_token_is_charged_to_its_address(limited: TestApp) -> None:
    """Made-up tokens give no fresh count: they are the address's requests."""
    for number in range(5):
        response = client(limited, HERE, f"made-up-{number}").get("/example", status=401)
        assert left(response) == 4 - number
    refused(client(limited, HERE, "made-up-5").get("/example", status=429), "reads")
    refused(client(limited, HERE).get("/example", status=429), "reads")


def test_a_refused_write_changes_nothing(limited: TestApp, engine: sa.Engine) -> None:
    for _ in range(4):
        limited.post_json("/example/users", {"reputation": 1}, status=201)
    before = count(engine, User)
    response = limited.post_json(
        "/example/users", {"reputation": 1}, headers={"Idempotency-Key": "k1"}, status=429
    )
    refused(response, "writes")
    assert count(engine, User) == before


# -- logins -----------------------------------------------------------------------------------


def test_logins_are_limited_per_address_whatever_the_token(
    limited: TestApp, engine: sa.Engine, admin_token: str
) -> None:
    user_with_login(limited)
    login = {"username": "ann", "password": PASSWORD}
    with_token = client(limited, HERE, admin_token)  # a login ignores the token
    for number in range(3):
        response = with_token.post_json("/example/auth", login, status=201)
        assert fields(response)["RateLimit"] == ("logins", {"r": 2 - number, "t": 60})
    refused(client(limited, HERE).post_json("/example/auth", login, status=429), "logins")
    assert count(engine, ApiToken) == 3
    assert left(client(limited, THERE).post_json("/example/auth", login, status=201)) == 2


def test_a_refused_login_checks_no_password(
    limited: TestApp, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_with_login(limited)
    anonymous = client(limited, HERE)
    for _ in range(3):
        anonymous.post_json("/example/auth", {"username": "ann", "password": "wrong"}, status=401)
    failures = count(engine, LoginFailure)

    def no_scrypt(*args, **kwargs) -> bool:
        raise AssertionError("a refused login must not hash a password")

    monkeypatch.setattr("backfeed_api.domain.logins.verify_password", no_scrypt)
    login = {"username": "ann", "password": PASSWORD}
    refused(anonymous.post_json("/example/auth", login, status=429), "logins")
    assert count(engine, LoginFailure) == failures
    assert count(engine, ApiToken) == 0


def test_logins_and_writes_are_counted_apart(limited: TestApp, admin_token: str) -> None:
    user_with_login(limited)
    mine = client(limited, HERE, admin_token)
    for _ in range(3):
        mine.post_json("/example/auth", {"username": "ann", "password": PASSWORD}, status=201)
    assert left(mine.post_json("/example/users", {}, status=201)) == 2  # after ann's
    assert left(mine.get("/example", status=200)) == 4


# -- the window -------------------------------------------------------------------------------


def test_waiting_retry_after_is_enough(build: Callable[..., TestApp]) -> None:
    anonymous = client(build(**{"backfeed.rate_limit_reads": "2 per 3 seconds"}))
    anonymous.get("/", status=200)
    anonymous.get("/", status=200)
    time.sleep(0.6)  # 2.4 s left, which Redis's TTL gives as 2
    retry_after = refused(anonymous.get("/", status=429), "reads")
    time.sleep(retry_after)  # no more: waiting what it says must be enough
    assert left(anonymous.get("/", status=200)) == 1


def test_a_retried_request_is_charged_once(
    limited: TestApp, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyramid_retry runs a request again after a serialization failure: one charge."""
    real, attempts = users.create_user, []

    def fails_once(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            error = RuntimeError("could not serialize access")
            mark_error_retryable(error)
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(users, "create_user", fails_once)
    response = limited.post_json("/example/users", {}, status=201)
    assert len(attempts) == 2
    assert left(response) == 3
    assert count(engine, User) == 1


# -- shared by every process ------------------------------------------------------------------


def test_two_applications_share_their_counts_through_redis(
    build: Callable[..., TestApp],
) -> None:
    first, second = client(build()), client(build())
    for application in (first, second, first, second, first):
        application.get("/example", status=200)
    refused(second.get("/example", status=429), "reads")
    refused(first.get("/example", status=429), "reads")


def test_another_key_prefix_is_another_count(
    build: Callable[..., TestApp], redis_url: str
) -> None:
    first = client(build())
    for _ in range(5):
        first.get("/", status=200)
    refused(first.get("/", status=429), "reads")
    elsewhere = client(build(**{"backfeed.rate_limit_key_prefix": f"other-{uuid.uuid4().hex}"}))
    assert left(elsewhere.get("/", status=200)) == 4


def test_the_memory_store_counts_for_its_own_process_only(
    make_app: Callable[..., TestApp],
) -> None:
    """The default store, for one process (``pserve development.ini``)."""
    first, second = (client(make_app(**LIMITS)) for _ in range(2))
    for _ in range(5):
        first.get("/", status=200)
    refused(first.get("/", status=429), "reads")
    assert left(second.get("/", status=200)) == 4


# -- Redis gone -------------------------------------------------------------------------------


def test_without_redis_requests_are_served_unlimited_with_a_warning(
    build: Callable[..., TestApp], caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="backfeed_api.pipeline.ratelimits"):
        app = client(build(**{"backfeed.rate_limit_storage_url": nowhere}))
        assert "store does not answer" in caplog.text
        caplog.clear()
        for _ in range(8):  # beyond the limit: nothing is counted
            response = app.get("/example", status=200)
            assert "RateLimit" not in response.headers
        app.post_json("/example/users", {}, headers=bearer(ADMIN_TOKEN), status=201)
    warnings = [r for r in caplog.records if "rate limits are off" in r.getMessage()]
    assert len(warnings) == 1  # then it pauses rather than wait for Redis at every request
    assert "redis://" not in caplog.text  # a URL may hold a password


# -- CORS and the OpenAPI document ------------------------------------------------------------


def test_browsers_may_read_the_headers_of_a_refusal(build: Callable[..., TestApp]) -> None:
    origin = "https://app.example.org"
    anonymous = client(build(**{"backfeed.cors_origins": origin}))
    for _ in range(5):
        anonymous.get("/example", headers={"Origin": origin}, status=200)
    response = anonymous.get("/example", headers={"Origin": origin}, status=429)
    refused(response, "reads")
    assert response.headers["Access-Control-Allow-Origin"] == origin
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= exposed


def test_the_document_announces_429_and_the_headers_everywhere(limited: TestApp) -> None:
    anonymous = client(limited)
    answered = anonymous.get("/__api__", status=200)
    document = answered.json
    declared = document["paths"]["/{contract}"]["get"]["responses"]
    for _ in range(4):
        answered = anonymous.get("/example", status=200)
    for response, status in ((answered, "200"), (anonymous.get("/example", status=429), "429")):
        for name, header in declared[status]["headers"].items():
            if header.get("type") == "string":
                assert re.fullmatch(header["pattern"], response.headers[name]), name
            else:
                assert int(response.headers[name]) >= header["minimum"], name
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "Retry-After" in responses["429"]["headers"], (path, method)
            for status, response in responses.items():
                assert {"RateLimit", "RateLimit-Policy"} <= set(response["headers"]), (
                    path,
                    method,
                    status,
                )


# -- settings ---------------------------------------------------------------------------------


def test_the_defaults() -> None:
    limits = rate_limits({})
    assert limits.enabled
    assert limits.storage_url == "memory://"
    assert limits.key_prefix == "backfeed"
    assert [(item.amount, item.get_expiry()) for item in (limits.logins, limits.writes)] == [
        (20, 60),
        (300, 60),
    ]
    assert (limits.reads.amount, limits.reads.get_expiry()) == (600, 60)
    every = rate_limits({"backfeed.rate_limit_reads": "600 per 10 minutes"}).reads
    assert (every.amount, every.get_expiry()) == (600, 600)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("backfeed.rate_limits", "maybe"),
        ("backfeed.rate_limit_logins", "20"),
        ("backfeed.rate_limit_logins", "0/minute"),
        ("backfeed.rate_limit_writes", "20/fortnight"),
        ("backfeed.rate_limit_writes", "20/minute; 100/hour"),
        ("backfeed.rate_limit_reads", "2000000000/second"),
        ("backfeed.rate_limit_reads", "1/100 years"),
        ("backfeed.rate_limit_reads", ""),
        ("backfeed.rate_limit_storage_url", "memcached://127.0.0.1:11211"),
        ("backfeed.rate_limit_storage_url", "127.0.0.1:6379"),
        ("backfeed.rate_limit_key_prefix", "has space"),
        ("backfeed.rate_limit_key_prefix", ""),
    ],
)
def test_bad_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(name)):
        rate_limits({name: value})


def test_a_bad_redis_url_stops_the_start(make_app: Callable[..., TestApp]) -> None:
    url = "redis://127.0.0.1:port/0"
    with pytest.raises(ConfigurationError, match=r"backfeed\.rate_limit_storage_url"):
        make_app(**{**LIMITS, "backfeed.rate_limit_storage_url": url})


@pytest.mark.parametrize(
    ("name", "store"), [("development.ini", "memory://"), ("production.ini", "redis://")]
)
def test_the_shipped_settings(name: str, store: str) -> None:
    """One process in development counts in memory; production's workers share Redis."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / name, encoding="utf-8")
    limits = rate_limits(dict(parser["app:main"]))
    assert limits.enabled
    assert limits.storage_url.startswith(store)


def test_a_batch_counts_as_its_votes(limited: TestApp, engine: sa.Engine) -> None:
    """Writes are 4 a minute here: after 3 writes, a single vote would pass, but a batch of
    2 votes counts 2 and is refused whole, before any vote is applied."""
    author = limited.post_json("/example/users", {"tokens": 10}).json["id"]
    voter = limited.post_json("/example/users", {}).json["id"]
    made = limited.post_json("/example/contributions", {"contributor_id": author}).json["id"]
    votes = [{"evaluator_id": voter, "contribution_id": made, "value": value} for value in (1, 0)]
    before = database_state(engine)
    response = limited.post_json("/example/evaluations/batch", {"evaluations": votes}, status=429)
    refused(response, "writes")
    assert database_state(engine) == before


def test_a_replayed_batch_counts_as_one_write(build: Callable[..., TestApp]) -> None:
    """A retry with the same ``Idempotency-Key`` gets the stored answer: it applies nothing,
    so it is one request to count, whatever the batch held."""
    app = build(**{"backfeed.rate_limit_writes": "7/minute"})
    engine = app.app.registry["db_engine"]
    author = app.post_json("/example/users", {"tokens": 10}).json["id"]
    voters = [app.post_json("/example/users", {"reputation": 1}).json["id"] for _ in "ab"]
    made = app.post_json("/example/contributions", {"contributor_id": author}).json["id"]
    votes = [{"evaluator_id": v, "contribution_id": made, "value": 1} for v in voters]
    key = {"Idempotency-Key": "one-batch"}
    first = app.post_json("/example/evaluations/batch", {"evaluations": votes}, headers=key)
    assert left(first) == 1  # 4 writes and a batch of 2
    before = database_state(engine)
    again = app.post_json("/example/evaluations/batch", {"evaluations": votes}, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert left(again) == 0
    refused(app.post_json("/example/users", {}, status=429), "writes")
    assert database_state(engine) == before
