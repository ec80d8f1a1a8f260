"""``backfeed.max_body_bytes``: the limit is a setting, checked at start-up, and the
development server's settings leave room for the application to answer oversized bodies
itself."""

from __future__ import annotations

import configparser
from collections.abc import Callable
from pathlib import Path

import pytest
from webtest import TestApp

from backfeed_api.settings import DEFAULT_MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES
from protocol import ConfigurationError

from .conftest import assert_error

ROOT = Path(__file__).resolve().parents[2]


def test_the_limit_is_a_setting(make_app: Callable[..., TestApp]) -> None:
    app = make_app(**{"backfeed.max_body_bytes": "40"})
    small, large = b'{"reputation": 12.5}', b'{"reputation": 12.5, "tokens": 1.25, "x": 1}'
    app.post("/example/users", small, content_type="application/json", status=201)
    response = app.post("/example/users", large, content_type="application/json", status=413)
    errors = assert_error(response, 413, location="body")
    assert "40 bytes" in errors[0]["description"]
    assert app.get("/example/users").json["_meta"]["total"] == 1


@pytest.mark.parametrize("value", ["0", "-1", "64k", "1e6", ""])
def test_a_bad_limit_stops_the_service(make_app: Callable[..., TestApp], value: str) -> None:
    with pytest.raises(ConfigurationError, match="max_body_bytes"):
        make_app(**{"backfeed.max_body_bytes": value})


def test_development_settings_leave_the_refusal_to_the_application() -> None:
    """waitress refuses bodies above its own limit in plain text: it must be far above ours.
    (gunicorn, which serves production.ini, has no such limit: tests/concurrency.)"""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "development.ini")
    application = int(parser["app:main"].get("backfeed.max_body_bytes", DEFAULT_MAX_BODY_BYTES))
    server = int(parser["server:main"]["max_request_body_size"])
    assert server == SERVER_MAX_BODY_BYTES
    assert server >= 4 * application
