"""CORS: off by default; with ``backfeed.cors_origins``, preflights and responses for the
listed origins only, errors included."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from webtest import TestApp, TestResponse

from backfeed_api.settings import DEFAULT_MAX_BODY_BYTES
from protocol import ConfigurationError

from .conftest import assert_error, bearer

APP = "https://app.example.org"
OTHER_APP = "http://localhost:3000"
EVIL = "https://evil.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


def cors_headers(response: TestResponse) -> dict[str, str]:
    """The response's CORS headers."""
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


@pytest.fixture
def cors_app(make_app: Callable[..., TestApp]) -> TestApp:
    """The application with two browser origins allowed."""
    return make_app(**{"backfeed.cors_origins": f"{APP}\n{OTHER_APP}"})


# -- off by default ---------------------------------------------------------------------------


def test_off_by_default_no_cors_headers(app: TestApp) -> None:
    response = app.get("/example/users", headers={"Origin": APP}, status=200)
    assert cors_headers(response) == {}
    assert "Origin" not in response.headers.get("Vary", "")


def test_off_by_default_preflight_is_not_answered(app: TestApp) -> None:
    response = app.options("/example/users", headers={"Origin": APP, **PREFLIGHT}, status=405)
    assert_error(response, 405)
    assert cors_headers(response) == {}


def test_off_by_default_errors_have_no_cors_headers(app: TestApp) -> None:
    response = app.get("/example/users?limit=0", headers={"Origin": APP}, status=400)
    assert cors_headers(response) == {}


# -- on, for the listed origins -----------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, OTHER_APP])
def test_preflight_of_a_listed_origin(cors_app: TestApp, origin: str) -> None:
    response = cors_app.options(
        "/example/evaluations", headers={"Origin": origin, **PREFLIGHT}, status=204
    )
    headers = cors_headers(response)
    assert headers["Access-Control-Allow-Origin"] == origin
    assert {m.strip() for m in headers["Access-Control-Allow-Methods"].split(",")} == {
        "GET",
        "HEAD",
        "POST",
        "DELETE",  # logging out, and revoking a login token
    }
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type", "idempotency-key", "if-none-match"}
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Origin" in response.headers["Vary"]
    assert response.body == b""
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_listed_origin_may_read_responses(cors_app: TestApp) -> None:
    response = cors_app.post_json(
        "/example/users", {"reputation": 1}, headers={"Origin": APP}, status=201
    )
    headers = cors_headers(response)
    assert headers["Access-Control-Allow-Origin"] == APP
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Location", "Idempotent-Replayed", "RateLimit", "RateLimit-Policy"} <= exposed
    assert {"ETag", "Link"} <= exposed
    assert "Origin" in response.headers["Vary"]


def test_a_listed_origin_may_read_errors(cors_app: TestApp) -> None:
    for response in (
        cors_app.get("/example/users?limit=0", headers={"Origin": APP}, status=400),
        cors_app.get("/nope", headers={"Origin": APP}, status=404),
        cors_app.post(
            "/example/users",
            b" " * (DEFAULT_MAX_BODY_BYTES + 1),
            content_type="application/json",
            headers={"Origin": APP},
            status=413,
        ),
    ):
        assert_error(response, response.status_int)
        assert cors_headers(response)["Access-Control-Allow-Origin"] == APP


def test_a_listed_origin_with_a_token(cors_app: TestApp, admin_token: str) -> None:
    headers = {"Origin": APP, **bearer(admin_token)}
    response = cors_app.get("/example/users", headers=headers, status=200)
    assert cors_headers(response)["Access-Control-Allow-Origin"] == APP
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "origin",
    [EVIL, "null", "https://app.example.org.evil.com", "http://app.example.org", APP + "/"],
)
def test_an_unlisted_origin_gets_nothing(cors_app: TestApp, origin: str) -> None:
    response = cors_app.get("/example/users", headers={"Origin": origin}, status=200)
    assert cors_headers(response) == {}
    assert "Origin" in response.headers["Vary"]
    preflight = cors_app.options(
        "/example/users", headers={"Origin": origin, **PREFLIGHT}, status=405
    )
    assert_error(preflight, 405)
    assert cors_headers(preflight) == {}


def test_without_an_origin_nothing_changes(cors_app: TestApp) -> None:
    response = cors_app.get("/example", status=200)
    assert cors_headers(response) == {}
    cors_app.options("/example", headers=PREFLIGHT, status=405)


def test_an_options_request_that_is_not_a_preflight(cors_app: TestApp) -> None:
    response = cors_app.options("/example/users", headers={"Origin": APP}, status=405)
    assert_error(response, 405)
    assert cors_headers(response)["Access-Control-Allow-Origin"] == APP


def test_max_age_is_a_setting(make_app: Callable[..., TestApp]) -> None:
    app = make_app(**{"backfeed.cors_origins": APP, "backfeed.cors_max_age": "60"})
    response = app.options("/example", headers={"Origin": APP, **PREFLIGHT}, status=204)
    assert response.headers["Access-Control-Max-Age"] == "60"


@pytest.mark.parametrize(
    "setting",
    ["*", "app.example.org", "https://app.example.org/path", "https://*.example.org", "null"],
)
def test_a_malformed_origin_stops_the_service(
    make_app: Callable[..., TestApp], setting: str
) -> None:
    with pytest.raises(ConfigurationError, match="cors_origins"):
        make_app(**{"backfeed.cors_origins": setting})
