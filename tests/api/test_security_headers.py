"""Security headers on every response: successes, validation errors, unknown routes, wrong
methods, refusals before routing, and unexpected failures; ``no-store`` where it belongs."""

from __future__ import annotations

import pytest
from webtest import TestApp, TestResponse

from backfeed_api.settings import DEFAULT_MAX_BODY_BYTES

from .conftest import Served, assert_error, bearer

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


@pytest.fixture(scope="module")
def anonymous(served: Served) -> TestApp:
    """A client of the same application that sends no credentials."""
    return TestApp(served.app.app)


@pytest.fixture(scope="module")
def populated(served: Served) -> None:
    """A user, so that the database snapshots have something to compare."""
    served.api.user(reputation=1)


def assert_secure(response: TestResponse, *, stored: bool) -> None:
    """The headers every response has; ``Cache-Control: no-store`` unless ``stored``."""
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))
    if stored:
        assert "no-store" not in response.headers.get("Cache-Control", "")
    else:
        assert response.headers["Cache-Control"] == "no-store"


def test_success(anonymous: TestApp) -> None:
    response = anonymous.get("/", status=200)
    assert_secure(response, stored=True)


def test_created_with_credentials_is_not_stored(anonymous: TestApp, admin_token: str) -> None:
    response = anonymous.post_json("/example/users", {}, headers=bearer(admin_token), status=201)
    assert_secure(response, stored=False)


def test_a_request_with_credentials_is_not_stored(anonymous: TestApp, admin_token: str) -> None:
    response = anonymous.get("/example/users", headers=bearer(admin_token), status=200)
    assert_secure(response, stored=False)


def test_head(anonymous: TestApp) -> None:
    response = anonymous.head("/example", status=200)
    assert_secure(response, stored=True)


def test_api_document(anonymous: TestApp) -> None:
    assert_secure(anonymous.get("/__api__", status=200), stored=True)


@pytest.mark.parametrize(
    ("method", "path", "status", "options"),
    [
        ("GET", "/example/users?limit=0", 400, {}),
        ("POST", "/example/users", 400, {"body": b"{", "content_type": "application/json"}),
        ("GET", "/nope", 404, {}),
        ("GET", "/example/users/1/friends/2/more", 404, {}),
        ("GET", "/example/users/999999", 404, {}),
        ("DELETE", "/example/users", 405, {}),
        ("POST", "/example/users", 415, {"body": b"x", "content_type": "text/plain"}),
        (
            "POST",
            "/example/users",
            413,
            {"body": b" " * (DEFAULT_MAX_BODY_BYTES + 1), "content_type": "application/json"},
        ),
        ("GET", "/example/users/%ff", 400, {}),
    ],
)
def test_errors(
    method: str, path: str, status: int, options: dict, served: Served, populated: None
) -> None:
    with served.unchanged():
        response = served.app.request(path, method=method, expect_errors=True, **options)
    assert_error(response, status)
    assert_secure(response, stored=False)
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_unexpected_failure(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure of the service itself is a bare 500 with the same headers."""

    def broken(*args, **kwargs):
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr("backfeed_api.api.views.users.list_users", broken)
    response = served.app.get("/example/users", status=500)
    assert_error(response, 500)
    assert "fire" not in response.text
    assert_secure(response, stored=False)
