"""The proxy filter of ``production.ini``: the reverse proxy's ``X-Forwarded-*`` headers are
believed from its address alone, and removed from everyone else's requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyramid.paster import get_app
from webtest import TestApp

from backfeed_api.proxy import filter_factory

ROOT = Path(__file__).resolve().parents[2]
PROXY = "127.0.0.1"
SETTINGS = {
    "trusted_proxy": PROXY,
    "trusted_proxy_headers": "x-forwarded-for x-forwarded-host x-forwarded-proto",
    "clear_untrusted_proxy_headers": "yes",
}
FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Host": "api.example.org",
    "X-Forwarded-Proto": "https",
}


def echo(environ, start_response):
    """A WSGI application answering with what it was told about the request."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    seen = (
        environ["REMOTE_ADDR"],
        environ["HTTP_HOST"],
        environ["wsgi.url_scheme"],
        environ.get("HTTP_X_FORWARDED_FOR", "-"),
    )
    return [" ".join(seen).encode()]


def client(peer: str) -> TestApp:
    return TestApp(filter_factory({}, **SETTINGS)(echo), extra_environ={"REMOTE_ADDR": peer})


def test_the_proxy_gives_the_client_address_host_and_scheme() -> None:
    answer = client(PROXY).get("/", headers=FORWARDED).text
    assert answer.split()[:3] == ["203.0.113.7", "api.example.org", "https"]


def test_anyone_else_cannot_claim_an_address() -> None:
    answer = client("198.51.100.9").get("/", headers=FORWARDED).text
    assert answer == "198.51.100.9 localhost:80 http -"


@pytest.mark.parametrize(
    "settings",
    [{"trusted_proxy": PROXY, "trusted_proxy_headers": "x-real-ip"}, {"trusted_porxy": PROXY}],
    ids=["unknown header", "unknown setting"],
)
def test_bad_settings_stop_the_start(settings: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        filter_factory({}, **settings)


def test_production_ini_puts_the_filter_in_front(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKFEED_DATABASE_URL", sqlite_url)
    app = TestApp(get_app(str(ROOT / "production.ini")), extra_environ={"REMOTE_ADDR": PROXY})
    forwarded = {**FORWARDED, "X-Forwarded-Port": "443"}
    service = app.get("/", headers=forwarded).json
    assert all(c["url"].startswith("https://api.example.org/") for c in service["contracts"])
