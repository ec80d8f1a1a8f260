"""``GET /{contract}/stats`` and ``GET /{contract}/leaderboard`` against an independent
computation from the published lists and every user's history.

A seeded community acts over several simulated days (users, contributions, votes and
re-votes, with ``whitepaper1``'s collective losses); then every figure of every period is
recomputed here from ``/users``, ``/contributions``, ``/evaluations?include_superseded=true``
and ``/users/{id}/history``, with formulas of this file's own (the Gini coefficient from the
mean absolute difference, the buckets from the times the answer gives).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from backfeed_api.models import LedgerEntry
from tests.conftest import Clock

from .conftest import Api, assert_error

PERIODS = ("day", "week", "month", "year", "all")
LENGTHS = {"day": 1, "week": 7, "month": 30, "year": 365}


def when(text: str) -> datetime:
    """A time of the API as a datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def every(api: Api, path: str, **params) -> list[dict]:
    """Every item of a collection, page by page."""
    items: list[dict] = []
    while True:
        page = api.get(path, limit=1000, start=len(items), **params)
        items += page["items"]
        if len(items) >= page["_meta"]["total"]:
            return items


def community(api: Api, clock: Clock, contract: str, seed: int, days: int = 40) -> None:
    """A seeded community: a few actions a day, with quiet days and re-votes."""
    rng = random.Random(seed)
    users: list[int] = []
    contributions: list[int] = []
    for day in range(days):
        if day % 9 == 4:  # a quiet day now and then
            clock.advance(days=1)
            continue
        for _ in range(rng.randint(1, 3)):
            users.append(api.user(contract, reputation=rng.choice([1, 5, 20]), tokens=10)["id"])
            clock.advance(minutes=rng.randint(1, 200))
        for _ in range(rng.randint(0, 2)):
            author = rng.choice(users)
            contributions.append(api.contribution(author, contract)["id"])
            clock.advance(minutes=rng.randint(1, 200))
        for _ in range(rng.randint(0, 6)):
            if not contributions:
                break
            voter, target = rng.choice(users), rng.choice(contributions)
            response = api.app.post_json(
                f"/{contract}/evaluations",
                {"evaluator_id": voter, "contribution_id": target, "value": rng.choice([0, 1])},
                expect_errors=True,
            )
            assert response.status_code in (200, 201, 400, 403, 409), response.json
            clock.advance(minutes=rng.randint(1, 120))
        clock.advance(hours=rng.randint(1, 20))


class Independent:
    """Everything the figures are computed from, read through the published API."""

    def __init__(self, api: Api, contract: str) -> None:
        self.users = every(api, f"/{contract}/users")
        self.contributions = every(api, f"/{contract}/contributions")
        self.evaluations = every(api, f"/{contract}/evaluations", include_superseded="true")
        self.histories = {
            user["id"]: every(api, f"/{contract}/users/{user['id']}/history")
            for user in self.users
        }

    def actions(self) -> list[tuple[datetime, str, int]]:
        """(time, kind, actor) of every action."""
        return (
            [(when(u["created_at"]), "users", u["id"]) for u in self.users]
            + [
                (when(c["created_at"]), "contributions", c["contributor"]["id"])
                for c in self.contributions
            ]
            + [
                (when(e["created_at"]), "evaluations", e["evaluator"]["id"])
                for e in self.evaluations
            ]
        )

    def entries_within(self, start: datetime, end: datetime) -> dict[int, list[dict]]:
        """Each user's history entries stamped within the period."""
        return {
            user: [e for e in entries if start <= when(e["created_at"]) <= end]
            for user, entries in self.histories.items()
        }


def gini(values: list[float]) -> float:
    """The Gini coefficient from the mean absolute difference."""
    n, total = len(values), sum(values)
    if not n or total <= 0:
        return 0.0
    return sum(abs(a - b) for a in values for b in values) / (2 * n * total)


def check_period(api: Api, clock: Clock, seen: Independent, contract: str, name: str) -> None:
    """Every figure of ``/stats?period=name`` against the independent computation."""
    stats = api.get(f"/{contract}/stats", period=name, buckets=7)
    start, end = when(stats["period"]["from"]), when(stats["period"]["to"])
    assert clock.now <= end < clock.now + timedelta(milliseconds=1)
    actions = seen.actions()
    if name == "all":
        assert start <= min(moment for moment, _, _ in actions)
    else:
        assert end - start == timedelta(days=LENGTHS[name])
    within = [a for a in actions if start <= a[0] <= end]

    times = [when(bucket["time"]) for bucket in stats["pulse"]] + [end]
    assert times[0] == start
    assert len(stats["pulse"]) == 7
    for i, bucket in enumerate(stats["pulse"]):
        last = i == len(stats["pulse"]) - 1
        inside = [a for a in within if times[i] <= a[0] and (a[0] < times[i + 1] or last)]
        for kind in ("users", "contributions", "evaluations"):
            assert bucket[kind] == sum(1 for a in inside if a[1] == kind), (name, i, kind)
    totals = [b["users"] + b["contributions"] + b["evaluations"] for b in stats["pulse"]]
    busiest = max(totals)
    assert [b["rate"] for b in stats["pulse"]] == [t / busiest if busiest else 0 for t in totals]

    counts = Counter(actor for _, kind, actor in within if kind != "users")
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(m["user_id"], m["actions"]) for m in stats["most_active"]] == expected

    reputation = stats["reputation"]
    balances = sorted(u["reputation"] for u in seen.users)
    assert reputation["gini"] == pytest.approx(gini(balances), abs=1e-12)
    top = balances[len(balances) - -(-len(balances) // 10) :]
    assert reputation["top_10_percent_share"] == pytest.approx(sum(top) / sum(balances))
    for share, held in reputation["lorenz"]:
        k = round(share * len(balances))
        assert held == pytest.approx(sum(balances[:k]) / sum(balances), abs=1e-12)
    assert reputation["lorenz"][0] == [0, 0]
    assert reputation["lorenz"][-1][0] == 1

    assert stats["agreement_rate"] == pytest.approx(agreement(seen, start, end))

    entries = seen.entries_within(start, end)
    deltas = [e for user_entries in entries.values() for e in user_entries]
    for what in ("reputation", "tokens"):
        created = sum(e[f"{what}_delta"] for e in deltas if e[f"{what}_delta"] > 0)
        destroyed = -sum(e[f"{what}_delta"] for e in deltas if e[f"{what}_delta"] < 0)
        assert stats["issued"][what]["created"] == pytest.approx(created, rel=1e-9, abs=1e-9)
        assert stats["issued"][what]["destroyed"] == pytest.approx(destroyed, rel=1e-9, abs=1e-9)

    for metric in ("reputation_gain", "tokens_gain"):
        what = metric.removesuffix("_gain")
        gains = {u: sum(e[f"{what}_delta"] for e in es) for u, es in entries.items()}
        check_board(api, contract, metric, name, gains)
    for metric in ("reputation", "tokens"):
        check_board(api, contract, metric, name, {u["id"]: u[metric] for u in seen.users})


def agreement(seen: Independent, start: datetime, end: datetime) -> float | None:
    """The share of the period's active votes, on contributions with two voters or more,
    whose value has strictly the most reputation behind it now."""
    reputation = {u["id"]: u["reputation"] for u in seen.users}
    active = [e for e in seen.evaluations if e["id"] in active_ids(seen)]
    behind: dict[int, Counter] = {}
    for e in active:
        behind.setdefault(e["contribution"]["id"], Counter())[e["value"]] += reputation[
            e["evaluator"]["id"]
        ]
    voters = Counter(e["contribution"]["id"] for e in active)
    counted = [
        e
        for e in active
        if voters[e["contribution"]["id"]] >= 2 and start <= when(e["created_at"]) <= end
    ]
    if not counted:
        return None
    agreeing = 0
    for e in counted:
        sums = behind[e["contribution"]["id"]]
        best = max(sums.values())
        leaders = [value for value, held in sums.items() if held == best]
        agreeing += leaders == [e["value"]]
    return agreeing / len(counted)


def active_ids(seen: Independent) -> set[int]:
    """The votes not replaced by a later one of the same user on the same contribution."""
    latest: dict[tuple[int, int], int] = {}
    for e in sorted(seen.evaluations, key=lambda e: e["id"]):
        latest[(e["evaluator"]["id"], e["contribution"]["id"])] = e["id"]
    return set(latest.values())


def check_board(api: Api, contract: str, metric: str, period: str, values: dict) -> None:
    """The whole leaderboard, page by page, and each user's own standing."""
    order = list(values)
    items: list[dict] = []
    while True:
        page = api.get(
            f"/{contract}/leaderboard", metric=metric, period=period, limit=7, start=len(items)
        )
        assert page["_meta"]["total"] == len(values)
        items += page["items"]
        if not page["items"]:
            break
    # Balances are floats: two gains equal here may differ in their last bits there, so
    # the order and the ranks are checked up to that.
    assert sorted(item["user"]["id"] for item in items) == sorted(order)
    tolerance = 1e-9
    for item, following in itertools.pairwise(items):
        if item["rank"] == following["rank"]:  # a tie, listed by id
            assert item["value"] == pytest.approx(following["value"], rel=tolerance)
            assert item["user"]["id"] < following["user"]["id"]
        else:
            assert item["value"] > following["value"]
    for item in items:
        value = values[item["user"]["id"]]
        assert item["value"] == pytest.approx(value, rel=tolerance, abs=tolerance)
        above = len([u for u in values if values[u] > value + tolerance])
        above_or_near = len([u for u in values if values[u] > value - tolerance]) - 1
        assert above + 1 <= item["rank"] <= above_or_near + 1
    if items:
        last = items[-1]
        own = api.get(
            f"/{contract}/leaderboard",
            metric=metric,
            period=period,
            limit=1,
            user_id=last["user"]["id"],
        )
        assert own["me"] == {"rank": last["rank"], "value": last["value"]}


@pytest.mark.parametrize("contract", ["example", "whitepaper1"])
def test_every_figure_of_every_period_matches_the_lists_and_the_ledger(
    app, db, clock: Clock, contract: str
):
    api = Api(app)
    community(api, clock, contract, seed=19)
    seen = Independent(api, contract)
    with db.connect() as connection:
        losses = connection.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.user_id.is_(None))
        )
    assert (losses > 0) == (contract == "whitepaper1")
    for name in PERIODS:
        check_period(api, clock, seen, contract, name)


def test_an_empty_contract_is_all_zeros(app, clock: Clock):
    api = Api(app)
    stats = api.get("/example/stats", period="all")
    assert stats["period"]["from"] == stats["period"]["to"]
    assert len(stats["pulse"]) == 24
    assert {b["rate"] for b in stats["pulse"]} == {0}
    assert stats["most_active"] == []
    assert stats["reputation"] == {
        "gini": 0,
        "top_10_percent_share": 0,
        "lorenz": [[0, 0], [1, 1]],
    }
    assert stats["agreement_rate"] is None
    zero = {"created": 0, "destroyed": 0}
    assert stats["issued"] == {"reputation": zero, "tokens": zero}
    board = api.get("/example/leaderboard", metric="reputation_gain", period="week")
    assert board["items"] == []
    assert board["_meta"]["total"] == 0


def test_a_single_user_holds_everything(app, clock: Clock):
    api = Api(app)
    user = api.user(reputation=7, tokens=3)["id"]
    stats = api.get("/example/stats", period="day", buckets=1)
    assert stats["pulse"] == [
        {
            "time": stats["period"]["from"],
            "rate": 1,
            "evaluations": 0,
            "contributions": 0,
            "users": 1,
        }
    ]
    assert stats["most_active"] == []
    assert stats["reputation"] == {
        "gini": 0,
        "top_10_percent_share": 1,
        "lorenz": [[0, 0], [1, 1]],
    }
    assert stats["issued"]["reputation"] == {"created": 7, "destroyed": 0}
    board = api.get("/example/leaderboard", metric="tokens_gain", period="day", user_id=user)
    assert [(i["rank"], i["user"]["id"], i["value"]) for i in board["items"]] == [(1, user, 3)]
    assert board["me"] == {"rank": 1, "value": 3}


def test_a_period_without_activity_has_a_flat_pulse(app, clock: Clock):
    api = Api(app)
    author = api.user(reputation=5)["id"]
    contribution = api.contribution(author)["id"]
    api.vote(api.user(reputation=9)["id"], contribution, 1)
    clock.advance(days=3)
    stats = api.get("/example/stats", period="day")
    kinds = ("rate", "users", "contributions", "evaluations")
    assert {tuple(b[kind] for kind in kinds) for b in stats["pulse"]} == {(0, 0, 0, 0)}
    assert stats["most_active"] == []
    assert stats["agreement_rate"] is None
    zero = {"created": 0, "destroyed": 0}
    assert stats["issued"] == {"reputation": zero, "tokens": zero}
    gains = api.get("/example/leaderboard", metric="reputation_gain", period="day")
    assert {item["value"] for item in gains["items"]} == {0}
    assert {item["rank"] for item in gains["items"]} == {1}
    week = api.get("/example/stats", period="week")
    assert sum(b["evaluations"] for b in week["pulse"]) == 1


def test_ties_share_a_rank_and_the_own_standing_is_off_the_page(app, clock: Clock):
    api = Api(app)
    ids = [api.user(reputation=r, tokens=1)["id"] for r in (5, 9, 5, 9, 1, 5)]
    board = api.get("/example/leaderboard", metric="reputation", limit=3, user_id=ids[4])
    assert [(i["rank"], i["user"]["id"]) for i in board["items"]] == [
        (1, ids[1]),
        (1, ids[3]),
        (3, ids[0]),
    ]
    assert board["me"] == {"rank": 6, "value": 1}
    rest = api.get("/example/leaderboard", metric="reputation", start=3)
    assert [(i["rank"], i["user"]["id"]) for i in rest["items"]] == [
        (3, ids[2]),
        (3, ids[5]),
        (6, ids[4]),
    ]
    tokens = api.get("/example/leaderboard", metric="tokens")
    assert {i["rank"] for i in tokens["items"]} == {1}


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("stats", {"period": "decade"}, "period"),
        ("stats", {"buckets": "0"}, "buckets"),
        ("stats", {"buckets": "1001"}, "buckets"),
        ("stats", {"buckets": "2.5"}, "buckets"),
        ("stats", {"limit": "3"}, "limit"),
        ("leaderboard", {"metric": "karma"}, "metric"),
        ("leaderboard", {"period": "hour"}, "period"),
        ("leaderboard", {"limit": "1001"}, "limit"),
        ("leaderboard", {"user_id": "x"}, "user_id"),
    ],
)
def test_bad_parameters_are_refused(app, path: str, params: dict, name: str):
    response = app.get(f"/example/{path}", params=params, status=400)
    assert_error(response, 400, name=name)


def test_a_user_of_another_contract_has_no_standing(app):
    api = Api(app)
    other = api.user("dmag")["id"]
    api.user()
    response = app.get("/example/leaderboard", params={"user_id": other}, status=404)
    assert response.json["status"] == "error"


@pytest.mark.parametrize("metric", ["reputation", "reputation_gain"])
def test_values_equal_but_for_rounding_share_a_rank(app, metric: str):
    api = Api(app)
    ids = [api.user(reputation=r)["id"] for r in (0.3, 0.1 + 0.2, 2.0, 1e-13, 0.0)]
    board = api.get("/example/leaderboard", metric=metric, period="day", user_id=ids[4])
    ranks = [(item["rank"], item["user"]["id"]) for item in board["items"]]
    assert ranks == [(1, ids[2]), (2, ids[0]), (2, ids[1]), (4, ids[3]), (4, ids[4])]
    assert board["me"] == {"rank": 4, "value": 0}
    values = {item["user"]["id"]: item["value"] for item in board["items"]}
    assert values[ids[1]] == 0.1 + 0.2  # each shows its own value
