"""``backfeed.public_url``: when set, the only base of every absolute URL the service gives
out, whatever ``Host`` a request carries; when left out, the request's own address."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from webtest import TestApp

from protocol import ConfigurationError

EVIL = {"Host": "evil.test"}


def absolute_urls(app: TestApp, headers: dict[str, str]) -> list[str]:
    """Every absolute URL the service answers with: the contract URLs of ``GET /``, the
    Location of a creation and of its idempotent replay."""
    urls = [contract["url"] for contract in app.get("/", headers=headers).json["contracts"]]
    keyed = {**headers, "Idempotency-Key": "first"}
    created = app.post_json("/example/users", {}, headers=keyed, status=201)
    replayed = app.post_json("/example/users", {}, headers=keyed, status=201)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    return [*urls, created.headers["Location"], replayed.headers["Location"]]


@pytest.mark.parametrize(
    ("setting", "base"),
    [
        ("https://api.example.org", "https://api.example.org/"),
        ("https://api.example.org/", "https://api.example.org/"),
        ("HTTPS://API.Example.org:8443/backfeed/", "https://api.example.org:8443/backfeed/"),
    ],
)
def test_public_url_is_the_only_base(
    make_app: Callable[..., TestApp], setting: str, base: str
) -> None:
    app = make_app(**{"backfeed.public_url": setting})
    urls = absolute_urls(app, EVIL)
    assert urls
    assert all(url.startswith(base) for url in urls), urls
    assert f"{base}example" in urls
    # A retry through another Host is answered with the same public Location.
    other = {"Host": "other.test", "Idempotency-Key": "first"}
    again = app.post_json("/example/users", {}, headers=other, status=201)
    assert again.headers["Location"] == urls[-1]


def test_without_it_urls_follow_the_request(app: TestApp) -> None:
    urls = absolute_urls(app, EVIL)
    assert all(url.startswith("http://evil.test/") for url in urls), urls


@pytest.mark.parametrize(
    "setting",
    [
        "api.example.org",
        "ftp://api.example.org",
        "https://",
        "https://api.example.org/?x=1",
        "https://api.example.org/#top",
        "https://user:secret@api.example.org",
        "https://api.example.org/a b",
    ],
)
def test_a_public_url_that_is_not_a_base_url_is_refused(
    make_app: Callable[..., TestApp], setting: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"backfeed\.public_url"):
        make_app(**{"backfeed.public_url": setting})
