"""The client drives every route of the OpenAPI document against a live server."""

from __future__ import annotations

import http.server
import queue
import threading
import time
from collections.abc import Iterator

import pytest
import standardwebhooks

from backfeed_api.client import (
    ApiError,
    BatchRefused,
    Client,
    ContractVersion,
    Contribution,
    Delivery,
    Evaluation,
    Event,
    Leaderboard,
    LedgerEntry,
    Page,
    Replay,
    Stats,
    User,
    Webhook,
)
from backfeed_api.client.client import ROUTES
from tests.concurrency.servers import ADMIN_TOKEN

PASSWORD = "a long secret of hers"
METHODS = {"get", "post", "put", "patch", "delete"}


def test_every_route_of_the_document_has_a_client_method(anonymous: Client) -> None:
    document = anonymous.openapi()
    served = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    missing = sorted(served - set(ROUTES))
    assert not missing, f"routes without a client method: {missing}"
    for name in ROUTES.values():
        assert callable(getattr(Client, name)), name


def test_the_service_and_the_contract(anonymous: Client) -> None:
    service = anonymous.service()
    assert {c["name"] for c in service.contracts} == {"example", "limited"}
    contract = anonymous.contract_info()
    assert contract.kind == "example"
    assert contract.name == "example"
    assert "article" in contract.types


def test_users_contributions_votes_and_pages(admin: Client, anonymous: Client) -> None:
    ann = admin.create_user(tokens=50, reputation=10)
    bob = admin.create_user(referrer_id=ann.id)
    assert isinstance(ann, User)
    assert bob.referrer_id == ann.id
    assert anonymous.user(bob.id) == bob
    article = admin.create_contribution(ann.id, type="article")
    assert isinstance(article, Contribution)
    assert article.contributor.id == ann.id
    vote = admin.evaluate(bob.id, article.id, 1)
    assert isinstance(vote, Evaluation)
    assert vote.value == 1
    assert admin.evaluate(bob.id, article.id, 1).id == vote.id  # the standing vote
    assert anonymous.evaluation(vote.id).id == vote.id
    assert anonymous.contribution(article.id).id == article.id
    page = anonymous.users(limit=1, since_id=ann.id - 1)
    assert isinstance(page, Page)
    assert page.next is not None
    assert [u.id for u in page.items] == [ann.id]
    assert [u.id for u in anonymous.iter_users(limit=1, since_id=ann.id - 1)] == [ann.id, bob.id]
    assert [c.id for c in anonymous.iter_contributions(contributor_id=ann.id)] == [article.id]
    assert [e.id for e in anonymous.iter_evaluations(contribution_id=article.id)] == [vote.id]
    assert anonymous.evaluations(contribution_id=article.id).total == 1
    assert anonymous.contributions(contributor_id=ann.id, order_by="time").total == 1
    history = anonymous.history(ann.id)
    assert all(isinstance(entry, LedgerEntry) for entry in history.items)
    assert [e.id for e in anonymous.iter_history(ann.id, limit=1)] == [e.id for e in history.items]
    assert [anonymous.ledger_entry(e.id) for e in history.items] == history.items
    assert history.items[-1].rule == "initial_balance"  # the oldest: ann's opening balances


def test_a_batch_and_its_refusal(admin: Client) -> None:
    author, voter = admin.create_user(tokens=10), admin.create_user()
    made = [admin.create_contribution(author.id).id for _ in range(2)]
    votes = admin.evaluate_batch([(voter.id, made[0], 1), (voter.id, made[1], 0)])
    assert [v.contribution.id for v in votes] == made
    with pytest.raises(BatchRefused) as refused:
        admin.evaluate_batch([(voter.id, made[0], 0), (voter.id, 10**9, 1)])
    assert refused.value.status == 400
    assert [f.index for f in refused.value.failed] == [1]
    assert refused.value.failed[0].errors[0].name == "contribution_id"
    assert admin.evaluations(evaluator_id=voter.id).total == 2  # nothing of it applied


def test_errors_carry_the_status_and_the_items(admin: Client, anonymous: Client) -> None:
    with pytest.raises(ApiError) as missing:
        anonymous.user(10**9)
    assert missing.value.status == 404
    with pytest.raises(ApiError) as unauthorized:
        anonymous.create_user()
    assert unauthorized.value.status == 401
    assert unauthorized.value.errors[0].name == "Authorization"
    with pytest.raises(ApiError) as invalid:
        admin.users(limit=0)
    assert invalid.value.status == 400
    assert invalid.value.errors[0].name == "limit"
    assert invalid.value.codes == ["invalid"]


def test_an_allowance_is_raised_at_once_with_its_retry_after(server) -> None:
    with Client(server.url, "limited", token=ADMIN_TOKEN, max_wait=5) as client:
        author, voter = client.create_user(tokens=10), client.create_user()
        made = [client.create_contribution(author.id).id for _ in range(2)]
        client.evaluate(voter.id, made[0], 1)
        with pytest.raises(ApiError) as refused:
            client.evaluate(voter.id, made[1], 1)
    assert refused.value.status == 429
    assert refused.value.errors[0].name == "evaluations_per_day"
    assert refused.value.codes == ["allowance_exceeded"]
    assert refused.value.retry_after > 0


def test_logging_in_and_out(admin: Client, server) -> None:
    admin.create_user(username="carol", password=PASSWORD)
    with Client(server.url, "example") as client:
        first = client.login("carol", PASSWORD)
        assert client.token == first.token
        second = client.login("carol", PASSWORD, use=False)
        tokens = client.login_tokens()
        assert [t.id for t in tokens.items] == [first.token_id, second.token_id]
        assert [t.current for t in tokens.items] == [True, False]
        client.revoke_login_token(second.token_id)
        assert [t.id for t in client.login_tokens().items] == [first.token_id]
        client.logout()
        assert client.token is None
        with pytest.raises(ApiError) as revoked:
            Client(server.url, "example", token=first.token).login_tokens()
    assert revoked.value.status == 401


def test_posts_carry_an_idempotency_key(admin: Client) -> None:
    sent = []
    original = admin._http.request

    def spy(method, url, **kwargs):
        sent.append((method, kwargs["headers"].get("Idempotency-Key")))
        return original(method, url, **kwargs)

    admin._http.request = spy
    admin.create_user()
    admin.create_user()
    admin.users()
    keys = [key for method, key in sent if method == "POST"]
    assert len(keys) == 2
    assert all(keys)
    assert keys[0] != keys[1]
    assert [key for method, key in sent if method == "GET"] == [None]


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records each delivery it gets (body and headers) and answers 204."""

    received: queue.Queue

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((body, dict(self.headers)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue]]:
    """An HTTP receiver on 127.0.0.1: its URL and the queue of what it received."""
    handler = type("Handler", (Receiver,), {"received": queue.Queue()})
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/hook", handler.received
    httpd.shutdown()
    thread.join(5)


def test_the_event_feed_follows_the_actions(admin: Client, anonymous: Client) -> None:
    after = max((event.id for event in anonymous.events(limit=1000)), default=0)
    ann = admin.create_user(tokens=10)
    found = list(anonymous.iter_events(after=after, wait=1, until_idle=True))
    assert [(event.type, event.data["id"]) for event in found] == [("user.created", ann.id)]
    assert isinstance(found[0], Event)
    assert anonymous.events(after=found[0].id, wait=0) == []
    work = admin.create_contribution(ann.id)
    typed = anonymous.events(after=after, types=["contribution.created"])
    assert [event.data["id"] for event in typed] == [work.id]


def test_webhooks_deliver_signed_events(admin: Client, receiver) -> None:
    url, received = receiver
    hook = admin.create_webhook(url, types=["user.created"], description="client test")
    assert isinstance(hook, Webhook)
    assert hook.secret.startswith("whsec_")
    assert admin.webhook(hook.id).secret is None  # shown once
    assert hook.id in [h.id for h in admin.webhooks().items]
    ann = admin.create_user()
    body, headers = received.get(timeout=30)
    verified = standardwebhooks.Webhook(hook.secret).verify(body, headers)
    assert verified["type"] == "user.created"
    assert verified["data"]["id"] == ann.id
    attempts = admin.deliveries(hook.id).items
    deadline = time.monotonic() + 10
    while not attempts and time.monotonic() < deadline:
        time.sleep(0.1)
        attempts = admin.deliveries(hook.id).items
    assert isinstance(attempts[0], Delivery)
    assert attempts[0].delivered
    assert not admin.change_webhook(hook.id, enabled=False).enabled
    admin.delete_webhook(hook.id)
    with pytest.raises(ApiError) as refused:
        admin.webhook(hook.id)
    assert refused.value.status == 404


def test_a_replay_runs_in_the_servers_worker(admin: Client, anonymous: Client) -> None:
    ann = admin.create_user(tokens=10, reputation=5)
    admin.evaluate(admin.create_user(reputation=20).id, admin.create_contribution(ann.id).id, 1)
    asked = admin.create_replay({"article.stake": 0.05})
    assert isinstance(asked, Replay)
    assert (asked.status, asked.expires_at) == ("queued", None)  # kept until it ends
    done = admin.wait_for_replay(asked.id, timeout=60)
    assert done.status == "done", done.error
    assert done.expires_at > done.finished_at
    assert done.result["overrides"] == {"article.stake": 0.05}
    assert asked.id in [replay.id for replay in admin.replays().items]
    assert admin.replay_users_csv(asked.id).startswith("user,actual_reputation,")
    assert admin.replay_plot(asked.id).startswith(b"\x89PNG")
    with pytest.raises(ApiError) as refused:
        anonymous.replay(asked.id)
    assert refused.value.status == 401
    with pytest.raises(ApiError) as refused:
        admin.create_replay({"nope": 1})
    assert refused.value.status == 400


def test_stats_leaderboard_and_dashboard(admin: Client, anonymous: Client) -> None:
    ann = admin.create_user(tokens=10, reputation=5)
    stats = anonymous.stats(period="week", buckets=4)
    assert isinstance(stats, Stats)
    assert len(stats.pulse) == 4
    assert stats.period_from < stats.period_to
    board = anonymous.leaderboard(metric="reputation", user_id=ann.id, limit=2)
    assert isinstance(board, Leaderboard)
    assert board.me is not None
    assert board.me.value == pytest.approx(anonymous.user(ann.id).reputation)
    assert all(isinstance(place.user, User) for place in board.page.items)
    assert "<html" in anonymous.dashboard().lower()
    assert "<html" in anonymous.user_dashboard(ann.id).lower()


def test_a_contract_made_and_changed_over_http(server) -> None:
    """Last of the module: the contract it makes is served from then on."""
    with Client(server.url, "club", token=ADMIN_TOKEN) as club:
        made = club.create_contract("example", {"beta": 0.4})
        assert (made.name, made.kind, made.version) == ("club", "example", 1)
        assert made.parameters["beta"] == 0.4
        assert club.create_contract("example", {"beta": 0.4}).version == 1
        with pytest.raises(ApiError) as refused:
            club.create_contract("dmag")
        assert (refused.value.status, refused.value.codes) == (409, ["contract_exists"])
        changed = club.change_parameters(**{"article.fee": 2, "beta": None})
        assert changed.version == 2
        assert changed.types["article"]["fee"] == 2
        page = club.versions()
        assert isinstance(page.items[0], ContractVersion)
        assert [(v.version, v.origin) for v in page.items] == [(1, "http"), (2, "http")]
        assert page.items[1].overrides == {"article.fee": 2}
        assert page.items[1].after_action == 1
        assert club.contract_info().version == 2
