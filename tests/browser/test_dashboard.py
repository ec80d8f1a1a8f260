"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

A seeded contract is served on 127.0.0.1; the pages must draw their tables and charts from
it, switch the pulse's period, show a vote made through the API without a reload, show a
user's history, ask for a read token when reads are private, contact no other host and log
no error. Set ``BACKFEED_SCREENSHOTS`` to a folder (``docs/_static``) to keep a picture of
each page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect
from webtest import TestApp

from backfeed_api.api.views.events import WaitingSlots
from tests.conftest import ADMIN_TOKEN, Clock

from ..api.conftest import Api

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def seed(api: Api, clock: Clock) -> list[int]:
    """A small community: one week of it three days ago, and a busy hour now."""
    users = [api.user("whitepaper1", reputation=r, tokens=10)["id"] for r in (40, 25, 10, 5, 1)]
    first = api.contribution(users[0], "whitepaper1")["id"]
    api.vote(users[1], first, 1, "whitepaper1")
    api.vote(users[2], first, 0, "whitepaper1")
    clock.advance(days=3)
    second = api.contribution(users[1], "whitepaper1")["id"]
    api.vote(users[0], second, 1, "whitepaper1")
    api.vote(users[3], second, 1, "whitepaper1")
    api.vote(users[4], first, 1, "whitepaper1")
    return users


def screenshot(page, name: str, tmp_path: Path) -> None:
    """A picture of the whole page, kept in ``BACKFEED_SCREENSHOTS`` when set."""
    folder = Path(os.environ.get("BACKFEED_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 10_000


def only_here(watched, url: str) -> None:
    """Every request of the page went to the server under test, and nothing was logged
    as an error."""
    assert watched.requests
    assert all(request.startswith(url + "/") for request in watched.requests), watched.requests
    assert watched.errors == []


def test_the_dashboard_draws_switches_and_follows_the_api(
    make_app, clock, serve, open_page, tmp_path
):
    served = serve(make_app())
    api = Api(served.client)
    users = seed(api, clock)
    page, watched = open_page(f"{served.url}/whitepaper1/dashboard")

    expect(page.locator("#totals dd").first).to_have_text("5")
    expect(page.locator("#leaderboard tbody tr")).to_have_count(5)
    expect(page.locator("#contributions tbody tr")).to_have_count(2)
    expect(page.locator("#pulse-chart rect.bar")).to_have_count(24)
    expect(page.locator("#lorenz-chart polyline.curve")).to_have_count(1)
    expect(page.locator("#gini")).to_contain_text("Gini 0.")
    expect(page.locator("#most-active li")).not_to_have_count(0)
    caption = page.locator("#pulse-caption")
    expect(caption).to_have_attribute("data-actions", "4")  # the day: 1 contribution, 3 votes

    page.click("#pulse-period button[data-period=week]")
    expect(caption).to_have_attribute("data-actions", "12")  # and the users and first votes
    expect(page.locator("#pulse-period button[data-period=week]")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.select_option("#board-metric", "tokens_gain")
    expect(page.locator("#leaderboard tbody tr")).to_have_count(5)

    api.vote(users[2], 2, 1, "whitepaper1")  # through the API, the page left alone
    expect(caption).to_have_attribute("data-actions", "13")
    expect(page.locator("#totals dd").nth(2)).to_have_text("6")

    screenshot(page, "dashboard", tmp_path)
    only_here(watched, served.url)


def stats_reads(watched) -> list[str]:
    """The page's reads of the statistics so far."""
    return [url for url in watched.requests if "/whitepaper1/stats?" in url]


def feed_reads(watched) -> list[str]:
    """The page's requests of the event feed, in order."""
    return [url for url in watched.requests if "/whitepaper1/events?" in url]


def soon(page, condition: Callable[[], object], tries: int = 60) -> bool:
    """Whether ``condition`` holds within ``tries`` quarter-seconds, the page running
    meanwhile (Playwright hands on a page's requests and console messages only while it is
    called)."""
    for _ in range(tries):
        if condition():
            return True
        page.wait_for_timeout(250)
    return bool(condition())


def test_the_page_waits_on_the_event_feed_rather_than_polling(make_app, clock, serve, open_page):
    served = serve(make_app())
    api = Api(served.client)
    users = seed(api, clock)
    page, watched = open_page(f"{served.url}/whitepaper1/dashboard")
    caption = page.locator("#pulse-caption")
    expect(caption).to_have_attribute("data-actions", "4")
    # The first reads done, the page waits on the feed.
    assert soon(page, lambda: any("wait=25" in url for url in feed_reads(watched))), watched
    read = stats_reads(watched)
    page.wait_for_timeout(4500)  # longer than a poll's interval: nothing happened
    assert stats_reads(watched) == read

    api.vote(users[2], 2, 1, "whitepaper1")
    expect(caption).to_have_attribute("data-actions", "5")
    only_here(watched, served.url)


def test_the_page_follows_the_feed_from_the_newest_event_it_was_given(
    make_app, clock, serve, open_page
):
    served = serve(make_app())
    api = Api(served.client)
    seed(api, clock)
    newest = api.get("/whitepaper1/events?limit=100")["items"][-1]["id"]
    page, watched = open_page(f"{served.url}/whitepaper1/dashboard")
    assert page.locator("body").get_attribute("data-newest-event") == str(newest)
    assert soon(page, lambda: feed_reads(watched))
    feed = feed_reads(watched)
    assert len(feed) == 1, feed  # no search for the newest event: it waits after it at once
    assert f"after={newest}" in feed[0]
    assert "wait=25" in feed[0]


def test_the_page_tells_only_readers_the_newest_event(make_app):
    public, private = make_app(), make_app(**{"backfeed.public_reads": "false"})
    for app in (public, private):
        Api(app).user()
    newest = public.get("/example/events").json["items"][-1]["id"]
    visit = TestApp(public.app).get("/example/dashboard")
    assert f'data-newest-event="{newest}"' in visit.text
    assert "data-newest-event" not in TestApp(private.app).get("/example/dashboard").text
    assert "data-newest-event" in private.get("/example/dashboard").text  # the admin reads


def test_the_page_polls_while_the_feed_refuses_to_wait(make_app, clock, serve, open_page):
    app = make_app()
    slots = WaitingSlots(total=1, per_client=1)
    slots.take("another client")  # every wait is refused: 503 with Retry-After
    app.app.registry["event_waiting_slots"] = slots
    served = serve(app)
    api = Api(served.client)
    users = seed(api, clock)
    page, watched = open_page(f"{served.url}/whitepaper1/dashboard")
    caption = page.locator("#pulse-caption")
    expect(caption).to_have_attribute("data-actions", "4")

    api.vote(users[2], 2, 1, "whitepaper1")
    expect(caption).to_have_attribute("data-actions", "5")
    assert len(stats_reads(watched)) >= 2
    # The feed did refuse (a loaded machine may report it after the figures moved).
    assert soon(page, lambda: any("status of 503" in e for e in watched.errors))
    refused = [e for e in watched.errors if "status of 503" in e]
    assert [e for e in watched.errors if e not in refused] == []


def test_the_user_page_shows_the_history(make_app, clock, serve, open_page, tmp_path):
    served = serve(make_app())
    api = Api(served.client)
    users = seed(api, clock)
    history = api.items(f"/whitepaper1/users/{users[0]}/history")
    page, watched = open_page(f"{served.url}/whitepaper1/dashboard/users/{users[0]}")

    expect(page.locator("#ledger tbody tr")).to_have_count(len(history))
    first_cause = history[0]["cause"]
    expect(page.locator("#ledger tbody tr").first).to_contain_text(
        f"{first_cause['type']} {first_cause['id']}"
    )
    for what in ("reputation", "tokens"):
        expect(page.locator(f"#history-chart polyline.{what}")).to_have_attribute(
            "data-points", str(len(history))
        )
    expect(page.locator("#balances dd").nth(2)).to_have_text(
        f"{api.get(f'/whitepaper1/users/{users[0]}')['tokens']:g}"
    )
    screenshot(page, "dashboard-user", tmp_path)
    only_here(watched, served.url)


def test_private_reads_ask_for_a_token_kept_in_the_tab(make_app, clock, serve, open_page):
    served = serve(make_app(**{"backfeed.public_reads": "false"}))
    seed(Api(served.client), clock)
    page, watched = open_page(f"{served.url}/whitepaper1/dashboard")

    expect(page.locator("#token-form")).to_be_visible()
    expect(page.locator("#leaderboard tbody tr")).to_have_count(0)
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")
    expect(page.locator("#leaderboard tbody tr")).to_have_count(5)
    expect(page.locator("#token-form")).to_be_hidden()
    stored = page.evaluate("() => Object.keys(sessionStorage)")
    assert stored == ["backfeed-read-token:whitepaper1"]
    assert page.evaluate("() => Object.keys(localStorage)") == []
    assert all(request.startswith(served.url + "/") for request in watched.requests)


def test_the_pages_have_a_policy_of_their_own_assets(make_app):
    app = make_app()
    user = Api(app).user()["id"]
    client = TestApp(app.app)  # a browser's visit: no token
    for path in ("/example/dashboard", f"/example/dashboard/users/{user}"):
        response = client.get(path)
        assert response.content_type == "text/html"
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "http" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"
    asset = client.get("/_dashboard/dashboard.js")
    assert "max-age=" in asset.headers["Cache-Control"]
    assert client.get("/nowhere/dashboard", status=404).json["status"] == "error"


@pytest.mark.parametrize("path", ["users/999999", "users/x", "users/-1", "users/1e3"])
def test_a_missing_user_is_a_page_saying_so_with_status_404(make_app, path: str):
    app = make_app()
    Api(app).user()
    client = TestApp(app.app)
    response = client.get(f"/example/dashboard/{path}", status=404)
    assert response.content_type == "text/html"
    assert "No such user" in response.text
    assert "dashboard.js" not in response.text  # nothing to read
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_private_reads_tell_no_one_without_a_token_which_users_exist(make_app):
    app = make_app(**{"backfeed.public_reads": "false"})
    user = Api(app).user()["id"]
    anonymous = TestApp(app.app)
    assert anonymous.get(f"/example/dashboard/users/{user}").status_int == 200
    assert anonymous.get("/example/dashboard/users/999999").status_int == 200
    assert "No such user" in app.get("/example/dashboard/users/999999", status=404).text
