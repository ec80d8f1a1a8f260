"""Lists: orders, filters, paging, the limit cap, and id 0 as an id like any other."""

from __future__ import annotations

import pytest

from .conftest import assert_error, paging

# -- users: a leaderboard ------------------------------------------------------------------------


@pytest.fixture
def players(api) -> list[int]:
    """Four users with distinct reputations and tokens, created in this order."""
    balances = [(5, 40), (30, 10), (10, 70), (20, 0)]
    return [api.user(reputation=r, tokens=t)["id"] for r, t in balances]


USER_ORDERS = {
    None: [0, 1, 2, 3],
    "time": [0, 1, 2, 3],
    "-time": [3, 2, 1, 0],
    "reputation": [0, 2, 3, 1],
    "-reputation": [1, 3, 2, 0],
    "tokens": [3, 1, 0, 2],
    "-tokens": [2, 0, 1, 3],
}


def test_users_order_by(api, players):
    for order_by, positions in USER_ORDERS.items():
        params = {} if order_by is None else {"order_by": order_by}
        expected = [players[i] for i in positions]
        assert api.ids("/example/users", **params) == expected, order_by


def test_leaderboard_follows_balances_as_they_change(api, players):
    contributor = players[2]
    article = api.contribution(contributor)["id"]
    for voter in (players[0], players[1], players[3]):
        api.vote(voter, article, 1)
    reputation = {i: api.get(f"/example/users/{i}")["reputation"] for i in players}
    tokens = {i: api.get(f"/example/users/{i}")["tokens"] for i in players}
    assert reputation[contributor] > 10  # rewarded
    expected = sorted(players, key=lambda i: -reputation[i])
    assert api.ids("/example/users", order_by="-reputation") == expected
    assert api.ids("/example/users", order_by="reputation") == expected[::-1]
    assert api.ids("/example/users", order_by="tokens") == sorted(players, key=tokens.get)


def test_users_with_equal_balances_page_without_gaps_or_repeats(api):
    everyone = [api.user(reputation=7)["id"] for _ in range(5)]
    for order_by in ("reputation", "-reputation", "tokens", "-tokens"):
        full = api.ids("/example/users", order_by=order_by)
        assert sorted(full) == everyone
        paged = [
            i
            for start in range(0, 5, 2)
            for i in api.ids("/example/users", order_by=order_by, limit=2, start=start)
        ]
        assert paged == full


def test_users_of_other_contracts_are_not_listed(api, players):
    api.user("dmag")
    assert api.get("/example/users")["_meta"]["total"] == 4
    assert api.get("/dmag/users")["_meta"]["total"] == 1
    assert api.get("/whitepaper1/users")["items"] == []


# -- paging and the limit cap --------------------------------------------------------------------


def test_start_and_limit(api, players):
    page = api.get("/example/users", limit=3, start=1)
    assert paging(page) == {"total": 4, "limit": 3, "start": 1}
    assert page["count"] == 3
    assert [u["id"] for u in page["items"]] == players[1:4]
    last = api.get("/example/users", limit=3, start=3)
    assert (last["count"], [u["id"] for u in last["items"]]) == (1, players[3:])
    beyond = api.get("/example/users", limit=3, start=4)
    assert (beyond["count"], beyond["items"], beyond["_meta"]["total"]) == (0, [], 4)
    assert api.get("/example/users", start=10**12)["items"] == []


def test_limit_is_capped_at_1000_not_clamped(app, api, players):
    paths = ["/example/users", "/example/contributions", "/example/evaluations"]
    for path in [*paths, f"/example/users/{players[0]}/history"]:
        assert api.get(path, limit=1000)["_meta"]["limit"] == 1000
        assert api.get(path, limit=1)["_meta"]["limit"] == 1
        assert api.get(path)["_meta"]["limit"] == 100
        response = app.get(path, params={"limit": 1001}, status=400)
        assert_error(response, 400, location="querystring", name="limit")


# -- contributions: filters and orders -----------------------------------------------------------


@pytest.fixture
def board(api, clock) -> dict[str, int]:
    """Contributions of known relative scores; the clock moves between them.

    ``old``, made 60 days before the others, has the best quality but its score has decayed
    below ``good``'s; ``bad`` has a down vote; ``fresh`` (a comment) has none.
    """
    ann = api.user(reputation=10)["id"]
    bob = api.user(reputation=10)["id"]
    voters = [api.user(reputation=r)["id"] for r in (40, 30, 20)]
    old = api.contribution(ann)["id"]
    for voter in voters:
        api.vote(voter, old, 1)
    clock.advance(days=60)
    good = api.contribution(bob)["id"]
    api.vote(voters[0], good, 1)
    api.vote(voters[1], good, 1)
    bad = api.contribution(ann)["id"]
    api.vote(voters[0], bad, 1)
    api.vote(voters[2], bad, 0)
    fresh = api.contribution(bob, type="comment")["id"]
    return {"ann": ann, "bob": bob, "old": old, "good": good, "bad": bad, "fresh": fresh}


def scores(api, board) -> dict[str, tuple[float, float]]:
    """Each contribution's (quality, score), read one by one."""
    result = {}
    for name in ("old", "good", "bad", "fresh"):
        stats = api.get(f"/example/contributions/{board[name]}")["stats"]
        result[name] = (stats["quality"], stats["score"])
    return result


def test_contributions_order_by_score_with_time_decay(api, board):
    measured = scores(api, board)
    assert measured["old"][0] > measured["good"][0]  # better quality…
    assert measured["old"][1] < measured["good"][1]  # …but older
    by_score = sorted(measured, key=lambda name: measured[name][1])
    assert by_score == ["fresh", "bad", "old", "good"]
    expected = [board[name] for name in by_score]
    assert api.ids("/example/contributions", order_by="score") == expected
    assert api.ids("/example/contributions", order_by="-score") == expected[::-1]
    assert api.ids("/example/contributions") == expected[::-1]  # -score by default
    listed = api.items("/example/contributions")
    assert [c["stats"]["score"] for c in listed] == sorted((s for _, s in measured.values()))[::-1]


def test_contributions_order_by_time(api, board):
    created = [board[name] for name in ("old", "good", "bad", "fresh")]
    assert api.ids("/example/contributions", order_by="time") == created
    assert api.ids("/example/contributions", order_by="-time") == created[::-1]


def test_score_order_pages(api, board):
    full = api.ids("/example/contributions")
    for order_by in ("score", "-score", "time", "-time"):
        full = api.ids("/example/contributions", order_by=order_by)
        paged = [
            i
            for start in (0, 3)
            for i in api.ids("/example/contributions", order_by=order_by, limit=3, start=start)
        ]
        assert paged == full
    page = api.get("/example/contributions", limit=2, start=1)
    assert paging(page) == {"total": 4, "limit": 2, "start": 1}
    assert [c["id"] for c in page["items"]] == api.ids("/example/contributions")[1:3]


def test_contributions_filters(api, board):
    ann, bob = board["ann"], board["bob"]
    by_ann = api.get("/example/contributions", contributor_id=ann, order_by="time")
    assert [c["id"] for c in by_ann["items"]] == [board["old"], board["bad"]]
    assert by_ann["_meta"]["total"] == 2
    assert {c["contributor"]["id"] for c in by_ann["items"]} == {ann}
    comments = api.get("/example/contributions", type="comment")
    assert [c["id"] for c in comments["items"]] == [board["fresh"]]
    assert comments["_meta"]["total"] == 1
    articles = api.ids("/example/contributions", type="article", order_by="time")
    assert articles == [board["old"], board["good"], board["bad"]]
    both = api.get("/example/contributions", contributor_id=bob, type="article")
    assert [c["id"] for c in both["items"]] == [board["good"]]
    assert both["_meta"]["total"] == 1
    none = api.get("/example/contributions", contributor_id=board["ann"], type="comment")
    assert (none["items"], none["_meta"]["total"]) == ([], 0)
    for order_by in ("score", "-score", "time", "-time"):
        page = api.get("/example/contributions", contributor_id=ann, order_by=order_by, limit=1)
        assert page["_meta"]["total"] == 2
        assert page["count"] == 1


def test_contributions_filter_by_a_user_of_another_contract_is_empty(api, board):
    dmag_user = api.user("dmag")["id"]
    api.contribution(dmag_user, "dmag")
    page = api.get("/example/contributions", contributor_id=dmag_user)
    assert (page["items"], page["_meta"]["total"]) == ([], 0)


# -- evaluations: filters ------------------------------------------------------------------------


@pytest.fixture
def ballot(api) -> dict[str, int]:
    """Two contributions, three voters, one re-vote."""
    ann, bob, carl = (api.user()["id"] for _ in range(3))
    first = api.contribution(ann)["id"]
    second = api.contribution(bob)["id"]
    ids = {"ann": ann, "bob": bob, "carl": carl, "first": first, "second": second}
    ids["bob_first"] = api.vote(bob, first, 1)["id"]
    ids["carl_first_old"] = api.vote(carl, first, 1)["id"]
    ids["ann_second"] = api.vote(ann, second, 0)["id"]
    ids["carl_first"] = api.vote(carl, first, 0)["id"]  # supersedes carl_first_old
    ids["carl_second"] = api.vote(carl, second, 1)["id"]
    return ids


EVALUATION_FILTERS = [
    ({}, ["bob_first", "ann_second", "carl_first", "carl_second"]),
    ({"contribution_id": "first"}, ["bob_first", "carl_first"]),
    ({"contribution_id": "second"}, ["ann_second", "carl_second"]),
    ({"evaluator_id": "carl"}, ["carl_first", "carl_second"]),
    ({"evaluator_id": "ann"}, ["ann_second"]),
    ({"value": 1}, ["bob_first", "carl_second"]),
    ({"value": 0}, ["ann_second", "carl_first"]),
    ({"value": "true"}, ["bob_first", "carl_second"]),
    ({"value": 0.5}, []),
    ({"contribution_id": "first", "value": 0}, ["carl_first"]),
    ({"evaluator_id": "carl", "contribution_id": "second"}, ["carl_second"]),
    ({"evaluator_id": "bob", "contribution_id": "second"}, []),
    (
        {"include_superseded": "true"},
        ["bob_first", "carl_first_old", "ann_second", "carl_first", "carl_second"],
    ),
    (
        {"include_superseded": "1", "evaluator_id": "carl"},
        ["carl_first_old", "carl_first", "carl_second"],
    ),
    (
        {"include_superseded": "true", "value": 1},
        ["bob_first", "carl_first_old", "carl_second"],
    ),
    (
        {"include_superseded": "false"},
        ["bob_first", "ann_second", "carl_first", "carl_second"],
    ),
    ({"include_superseded": "0", "contribution_id": "first"}, ["bob_first", "carl_first"]),
]


def test_evaluations_filters(api, ballot):
    for params, expected in EVALUATION_FILTERS:
        query = {key: ballot.get(value, value) for key, value in params.items()}
        page = api.get("/example/evaluations", **query)
        assert [e["id"] for e in page["items"]] == [ballot[name] for name in expected], params
        assert page["_meta"]["total"] == len(expected), params


def test_evaluations_pages_and_marks_superseded_votes(api, ballot):
    page = api.get("/example/evaluations", include_superseded="true", limit=2, start=1)
    assert paging(page) == {"total": 5, "limit": 2, "start": 1}
    assert [e["id"] for e in page["items"]] == [ballot["carl_first_old"], ballot["ann_second"]]
    superseded = page["items"][0]
    assert superseded["value"] == 1
    assert superseded.get("active", False) is False
    assert page["items"][1].get("active", True) is True


# -- id 0 is an id like any other ----------------------------------------------------------------


def test_filter_on_id_zero_is_empty_not_unfiltered(api, ballot):
    for path, param in [
        ("/example/contributions", "contributor_id"),
        ("/example/evaluations", "contribution_id"),
        ("/example/evaluations", "evaluator_id"),
    ]:
        assert api.get(path)["items"]
        page = api.get(path, **{param: 0})
        assert page["items"] == [], param
        assert page["_meta"]["total"] == 0, param


def test_filter_on_value_zero_is_a_filter(api, ballot):
    values = {e["value"] for e in api.items("/example/evaluations", value=0)}
    assert values == {0}


def test_id_zero_in_the_url_is_not_found(app, ballot):
    for path in ("users/0", "users/0/history", "contributions/0", "evaluations/0"):
        assert_error(app.get(f"/example/{path}", status=404), 404, location="url")
