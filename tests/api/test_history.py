"""``GET /{contract}/users/{id}/history``: the ledger, newest first, with causes and balances."""

from __future__ import annotations

import pytest

from .conftest import paging

ANN_REWARD = 54.45454545454545 - 9, 14.545454545454545 - 10  # tokens, reputation


@pytest.fixture
def scenario_one(api) -> dict[str, int]:
    """Reference scenario 1 (docs/protocol.rst): Ann's article, Bonnie's vote; the ids involved."""
    ann = api.user(reputation=10, tokens=10)["id"]
    bonnie = api.user(reputation=100, tokens=99)["id"]
    article = api.contribution(ann, type="article")["id"]
    vote = api.vote(bonnie, article, 1)["id"]
    return {"ann": ann, "bonnie": bonnie, "article": article, "vote": vote}


def entry_keys(entry: dict) -> None:
    assert set(entry) >= {
        "id",
        "cause",
        "reputation_delta",
        "tokens_delta",
        "reputation",
        "tokens",
        "created_at",
    }
    assert set(entry["cause"]) == {"type", "id"}


def test_history_is_newest_first_with_causes_deltas_and_balances(api, scenario_one):
    ids = scenario_one
    page = api.get(f"/example/users/{ids['ann']}/history")
    assert paging(page) == {"total": 3, "limit": 100, "start": 0}
    assert page["count"] == 3
    reward, fee, opening = page["items"]
    for entry in page["items"]:
        entry_keys(entry)

    assert reward["cause"] == {"type": "evaluation", "id": ids["vote"]}
    assert reward["tokens_delta"] == pytest.approx(ANN_REWARD[0], rel=1e-12)
    assert reward["reputation_delta"] == pytest.approx(ANN_REWARD[1], rel=1e-12)
    assert reward["tokens"] == pytest.approx(54.45454545454545, rel=1e-12)
    assert reward["reputation"] == pytest.approx(14.545454545454545, rel=1e-12)

    assert fee["cause"] == {"type": "contribution", "id": ids["article"]}
    assert (fee["tokens_delta"], fee["reputation_delta"]) == (-1, 0)
    assert (fee["tokens"], fee["reputation"]) == (9, 10)

    assert opening["cause"] == {"type": "user", "id": ids["ann"]}
    assert (opening["tokens_delta"], opening["reputation_delta"]) == (10, 10)
    assert (opening["tokens"], opening["reputation"]) == (10, 10)

    assert reward["id"] > fee["id"] > opening["id"]
    user = api.get(f"/example/users/{ids['ann']}")
    assert (reward["tokens"], reward["reputation"]) == (user["tokens"], user["reputation"])


def test_evaluator_history_records_the_fee(api, scenario_one):
    ids = scenario_one
    fee, opening = api.items(f"/example/users/{ids['bonnie']}/history")
    assert fee["cause"] == {"type": "evaluation", "id": ids["vote"]}
    assert fee["reputation_delta"] == pytest.approx(99.90692517849118 - 100, rel=1e-9)
    assert fee["tokens_delta"] == 0
    assert fee["reputation"] == pytest.approx(99.90692517849118, rel=1e-12)
    assert opening["cause"] == {"type": "user", "id": ids["bonnie"]}


def test_balances_after_each_entry_add_up(api, clock):
    ann = api.user(reputation=10)["id"]
    bob = api.user(referrer_id=ann)["id"]
    carl = api.user(reputation=40)["id"]
    article = api.contribution(bob)["id"]
    comment = api.contribution(carl, type="comment")["id"]
    api.vote(ann, article, 1)
    api.vote(carl, article, 1)
    api.vote(bob, comment, 0)
    clock.advance(days=31)
    api.vote(ann, comment, 1)
    api.vote(carl, article, 0)
    for user in (ann, bob, carl):
        entries = api.items(f"/example/users/{user}/history")[::-1]  # oldest first
        reputation = tokens = 0.0
        for entry in entries:
            reputation += entry["reputation_delta"]
            tokens += entry["tokens_delta"]
            assert entry["reputation"] == pytest.approx(reputation, rel=1e-12, abs=1e-12)
            assert entry["tokens"] == pytest.approx(tokens, rel=1e-12, abs=1e-12)
        now = api.get(f"/example/users/{user}")
        assert now["reputation"] == pytest.approx(reputation, rel=1e-12)
        assert now["tokens"] == pytest.approx(tokens, rel=1e-12)
    # ann referred bob: bob's rewards passed some reputation on to ann, caused by the vote
    causes = [e["cause"]["type"] for e in api.items(f"/example/users/{ann}/history")]
    assert causes.count("evaluation") >= 2


def test_a_repeated_vote_writes_no_entry(api, scenario_one):
    ids = scenario_one
    before = {u: api.get(f"/example/users/{ids[u]}/history") for u in ("ann", "bonnie")}
    api.vote(ids["bonnie"], ids["article"], 1, status=200)
    for user, page in before.items():
        assert api.get(f"/example/users/{ids[user]}/history") == page


def test_a_user_with_nothing_has_no_entry(api):
    nobody = api.user("dmag", reputation=0, tokens=0)["id"]
    page = api.get(f"/dmag/users/{nobody}/history")
    assert page == {"count": 0, "_meta": {"total": 0, "limit": 100, "start": 0}, "items": []}


def test_history_pages(api, scenario_one):
    ann = scenario_one["ann"]
    everything = api.items(f"/example/users/{ann}/history")
    page = api.get(f"/example/users/{ann}/history", limit=1, start=1)
    assert paging(page) == {"total": 3, "limit": 1, "start": 1}
    assert page["items"] == everything[1:2]
    assert api.items(f"/example/users/{ann}/history", limit=2, start=2) == everything[2:]
    beyond = api.get(f"/example/users/{ann}/history", start=10)
    assert (beyond["count"], beyond["items"], beyond["_meta"]["total"]) == (0, [], 3)


def test_history_is_only_this_users(api, scenario_one):
    other = api.user("example")["id"]
    entries = api.items(f"/example/users/{other}/history")
    assert [e["cause"] for e in entries] == [{"type": "user", "id": other}]
