"""Webhook subscriptions over HTTP: create (with the secret shown once), list, read, change,
delete, the record of deliveries; and the targets refused."""

from __future__ import annotations

import pytest
from webtest import TestApp

from backfeed_api.domain.webhook_targets import TargetRefused, check_target
from backfeed_api.domain.webhooks import secret_text, signing_secret

from .conftest import Api, assert_error

URL = "http://127.0.0.1:9/hook"


def test_create_shows_the_secret_once(app: TestApp, api: Api) -> None:
    api.user()
    response = app.post_json(
        "/example/webhooks",
        {"url": URL, "types": ["user.created"], "description": "the bot"},
        status=201,
    )
    hook = response.json
    assert hook["secret"].startswith("whsec_")
    assert response.location.endswith(f"/example/webhooks/{hook['id']}")
    assert hook["types"] == ["user.created"]
    assert hook["enabled"] is True
    assert hook["failing"] is False
    assert hook["last_event_id"] == api.items("/example/events")[-1]["id"]
    shown = api.get(f"/example/webhooks/{hook['id']}")
    assert shown == {key: value for key, value in hook.items() if key != "secret"}
    assert api.items("/example/webhooks") == [shown]
    assert api.items(f"/example/webhooks/{hook['id']}/deliveries") == []


def test_change_and_delete(app: TestApp, api: Api) -> None:
    hook = app.post_json("/example/webhooks", {"url": URL}, status=201).json
    path = f"/example/webhooks/{hook['id']}"
    changed = app.patch_json(path, {"enabled": False, "types": ["evaluation.created"]}).json
    assert changed["enabled"] is False
    assert changed["types"] == ["evaluation.created"]
    assert app.patch_json(path, {"enabled": True}).json["enabled"] is True
    app.delete(path, status=204)
    app.get(path, status=404)
    app.get(f"{path}/deliveries", status=404)
    app.patch_json(path, {"enabled": True}, status=404)


def test_a_webhook_of_another_contract_is_404(app: TestApp) -> None:
    hook = app.post_json("/dmag/webhooks", {"url": URL}, status=201).json
    app.get(f"/example/webhooks/{hook['id']}", status=404)
    app.delete(f"/example/webhooks/{hook['id']}", status=404)


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://user:secret@127.0.0.1/"}, "url"),
        ({"url": URL, "types": ["user.deleted"]}, "types.0"),
        ({"url": URL, "types": "user.created"}, "types"),
        ({"url": URL, "secret": "mine"}, "secret"),
        ({"url": URL, "description": "x" * 501}, "description"),
    ],
)
def test_bad_webhooks_are_400(app: TestApp, body: dict, name: str) -> None:
    response = app.post_json("/example/webhooks", body, status=400)
    assert_error(response, 400, name=name)
    assert app.get("/example/webhooks").json["items"] == []


def test_enabled_must_be_a_boolean(app: TestApp) -> None:
    hook = app.post_json("/example/webhooks", {"url": URL}, status=201).json
    response = app.patch_json(f"/example/webhooks/{hook['id']}", {"enabled": "yes"}, status=400)
    assert_error(response, 400, name="enabled")


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",  # public, but not https
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fe80::1]/hook",
        "https://224.0.0.1/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_private_and_plain_http_targets_are_refused(make_app, url: str) -> None:
    app = make_app(**{"backfeed.webhooks.allow_private_targets": "false"})
    response = app.post_json("/example/webhooks", {"url": url}, status=400)
    assert_error(response, 400, location="body", name="url")
    assert app.get("/example/webhooks").json["items"] == []


def test_a_public_https_address_is_accepted(make_app) -> None:
    app = make_app(**{"backfeed.webhooks.allow_private_targets": "false"})
    app.post_json("/example/webhooks", {"url": "https://93.184.216.34/hook"}, status=201)


def test_a_name_is_checked_for_every_address_it_resolves_to() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(TargetRefused, match="private"):
        check_target("https://hooks.example.org/x", False, resolver)
    target = check_target("https://hooks.example.org/x", True, resolver)
    assert target.addresses == ("93.184.216.34", "10.0.0.7")

    def failing(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(TargetRefused, match="does not resolve"):
        check_target("https://nowhere.example.org/x", False, failing)


def test_the_secret_needs_the_signing_key() -> None:
    """The database keeps the salt: another key makes another secret."""
    salt = "a1" * 24
    mine = signing_secret(b"deployment key", salt)
    assert signing_secret(b"deployment key", salt) == mine
    assert signing_secret(b"another key", salt) != mine
    assert secret_text(mine).startswith("whsec_")


def test_a_signing_key_makes_the_shown_secret(make_app) -> None:
    one = make_app(**{"backfeed.webhooks.signing_key": "one"})
    hook = one.post_json("/example/webhooks", {"url": URL}, status=201).json
    two = make_app(**{"backfeed.webhooks.signing_key": "two"})
    other = two.post_json("/example/webhooks", {"url": URL}, status=201).json
    assert hook["secret"] != other["secret"]
