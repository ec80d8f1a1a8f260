"""The JSON shapes of the published API, field by field, and the answers to writes."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import paging

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
USER_KEYS = {"id", "tokens", "reputation", "reputation_normalized", "total_reputation"}
CONTRIBUTION_KEYS = {"id", "type", "contributor", "stats"}
STATS_KEYS = {"evaluations", "engaged_reputation", "quality", "score"}
EVALUATION_KEYS = {"id", "value", "evaluator", "contribution"}


def is_number(value) -> bool:
    """A JSON number (not a boolean), finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def moment(text: str) -> datetime:
    """An ISO 8601 UTC timestamp of the API as a datetime."""
    assert ISO_UTC.fullmatch(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


UNCHECKED = -1


def check_user(user: dict, *, referrer: int | None = UNCHECKED) -> None:
    """The user shape; ``referrer`` (None: none) only when the user has one."""
    assert set(user) >= USER_KEYS | {"created_at"}
    assert is_id(user["id"])
    for key in ("tokens", "reputation", "reputation_normalized", "total_reputation"):
        assert is_number(user[key]), key
    if referrer is None:
        assert "referrer" not in user
    elif referrer != UNCHECKED:
        assert user["referrer"] == {"id": referrer}
    if "referrer" in user:
        assert set(user["referrer"]) == {"id"}
        assert is_id(user["referrer"]["id"])
    total = user["total_reputation"]
    expected = user["reputation"] / total if user["reputation"] else 0.0
    assert user["reputation_normalized"] == pytest.approx(expected, rel=1e-12)
    moment(user["created_at"])


def check_contribution(contribution: dict, evaluation_values: tuple[str, ...] = ("0", "1")):
    """The contribution shape, with its contributor and stats."""
    assert set(contribution) >= CONTRIBUTION_KEYS | {"created_at"}
    assert is_id(contribution["id"])
    assert isinstance(contribution["type"], str)
    check_user(contribution["contributor"])
    stats = contribution["stats"]
    assert set(stats) == STATS_KEYS
    assert set(stats["evaluations"]) == set(evaluation_values)
    for value in evaluation_values:
        assert set(stats["evaluations"][value]) == {"reputation"}
        assert is_number(stats["evaluations"][value]["reputation"])
    for key in ("engaged_reputation", "quality", "score"):
        assert is_number(stats[key]), key
    moment(contribution["created_at"])


def check_evaluation(evaluation: dict) -> None:
    """The evaluation shape, with its evaluator and contribution."""
    assert set(evaluation) >= EVALUATION_KEYS | {"created_at"}
    assert is_id(evaluation["id"])
    assert is_number(evaluation["value"])
    check_user(evaluation["evaluator"])
    check_contribution(evaluation["contribution"])
    moment(evaluation["created_at"])


def check_collection(page: dict, *, total: int, limit: int = 100, start: int = 0) -> list[dict]:
    """The collection shape; return its items."""
    assert set(page) == {"count", "_meta", "items"}
    assert paging(page) == {"total": total, "limit": limit, "start": start}
    assert isinstance(page["items"], list)
    assert page["count"] == len(page["items"])
    return page["items"]


# -- users ---------------------------------------------------------------------------------------


def test_user_created_answers_201_with_location_and_the_user(app, clock):
    clock.advance(hours=5, microseconds=250)
    response = app.post_json("/example/users", {"reputation": 10, "tokens": 7}, status=201)
    user = response.json
    check_user(user, referrer=None)
    assert user["reputation"] == 10
    assert user["tokens"] == 7
    assert user["total_reputation"] == 10
    assert user["reputation_normalized"] == 1
    assert moment(user["created_at"]) == clock.now
    assert response.headers["Location"] == f"http://localhost/example/users/{user['id']}"
    assert app.get(response.headers["Location"]).json == user


def test_user_defaults_are_the_contract_initial_values(api):
    assert (api.user()["reputation"], api.user()["tokens"]) == (20, 50)
    dmag = api.user("dmag")
    assert (dmag["reputation"], dmag["tokens"]) == (0, 50)
    assert dmag["reputation_normalized"] == 0
    assert dmag["total_reputation"] == 0


def test_referrer_appears_only_when_present(api):
    ann = api.user()
    check_user(ann, referrer=None)
    bob = api.user(referrer_id=ann["id"])
    check_user(bob, referrer=ann["id"])
    assert api.get(f"/example/users/{bob['id']}")["referrer"] == {"id": ann["id"]}
    assert "referrer" not in api.get(f"/example/users/{ann['id']}")
    listed = {u["id"]: u for u in api.items("/example/users")}
    assert listed[bob["id"]]["referrer"] == {"id": ann["id"]}
    assert "referrer" not in listed[ann["id"]]


def test_reputation_normalized_and_total_follow_the_contract(api):
    a = api.user(reputation=10)
    b = api.user(reputation=30)
    api.user("burning", reputation=1000)  # another contract: not in this total
    a, b = (api.get(f"/example/users/{u['id']}") for u in (a, b))
    assert a["total_reputation"] == b["total_reputation"] == 40
    assert a["reputation_normalized"] == 0.25
    assert b["reputation_normalized"] == 0.75
    zero = api.user(reputation=0)
    assert zero["reputation_normalized"] == 0
    assert zero["total_reputation"] == 40


# -- contributions -------------------------------------------------------------------------------


def test_contribution_created_answers_201_with_location(app, api, clock):
    ann = api.user(tokens=3)
    clock.advance(days=2)
    response = app.post_json(
        "/example/contributions", {"contributor_id": ann["id"], "type": "comment"}, status=201
    )
    contribution = response.json
    check_contribution(contribution)
    assert contribution["type"] == "comment"
    assert contribution["contributor"]["id"] == ann["id"]
    assert contribution["contributor"]["tokens"] == pytest.approx(2.9, rel=1e-15)
    assert moment(contribution["created_at"]) == clock.now
    assert contribution["stats"] == {
        "evaluations": {"0": {"reputation": 0}, "1": {"reputation": 0}},
        "engaged_reputation": 0,
        "quality": 0,
        "score": 0,
    }
    location = response.headers["Location"]
    assert location == f"http://localhost/example/contributions/{contribution['id']}"
    assert app.get(location).json == contribution


def test_contribution_type_defaults_to_the_first_alphabetically(api):
    ann = api.user()
    assert api.contribution(ann["id"])["type"] == "article"
    assert api.get(f"/example/users/{ann['id']}")["tokens"] == 49
    wp = api.user("whitepaper1")
    assert api.contribution(wp["id"], "whitepaper1")["type"] == "contribution"


def test_contribution_stats_are_normalised_voted_reputation(api, clock):
    ann = api.user(reputation=10, tokens=10)
    bonnie = api.user(reputation=100, tokens=99)
    carl = api.user(reputation=30)
    article = api.contribution(ann["id"], type="article")["id"]
    api.vote(bonnie["id"], article, 1)
    api.vote(carl["id"], article, 0)
    users = {u["id"]: u for u in api.items("/example/users")}
    total = sum(u["reputation"] for u in users.values())
    up, down = users[bonnie["id"]]["reputation"], users[carl["id"]]["reputation"]

    stats = api.get(f"/example/contributions/{article}")["stats"]
    assert users[ann["id"]]["total_reputation"] == pytest.approx(total, rel=1e-12)
    assert stats["evaluations"]["1"]["reputation"] == pytest.approx(up / total, rel=1e-12)
    assert stats["evaluations"]["0"]["reputation"] == pytest.approx(down / total, rel=1e-12)
    assert stats["engaged_reputation"] == pytest.approx((up + down) / total, rel=1e-12)
    quality = (1 - down / total) * (up / total)
    assert stats["quality"] == pytest.approx(quality, rel=1e-12)
    assert stats["score"] == pytest.approx(quality * (0.1 + 27 / 30), rel=1e-12)

    clock.advance(days=10, hours=23)  # ten whole days
    stats = api.get(f"/example/contributions/{article}")["stats"]
    assert stats["quality"] == pytest.approx(quality, rel=1e-12)
    assert stats["score"] == pytest.approx(quality * (0.1 + 27 / 40), rel=1e-12)


def test_whitepaper1_stats_keys_are_its_evaluation_values(api):
    author = api.user("whitepaper1")
    voter = api.user("whitepaper1")
    contribution = api.contribution(author["id"], "whitepaper1")
    check_contribution(contribution, ("0", "1"))
    vote = api.vote(voter["id"], contribution["id"], True, "whitepaper1")
    assert vote["value"] == 1
    assert vote["contribution"]["stats"]["evaluations"]["1"]["reputation"] > 0


# -- evaluations ---------------------------------------------------------------------------------


def test_evaluation_created_answers_201_with_location(app, api, clock):
    ann = api.user(reputation=10, tokens=10)
    bonnie = api.user(reputation=100, tokens=99)
    article = api.contribution(ann["id"])
    clock.advance(minutes=3)
    body = {"evaluator_id": bonnie["id"], "contribution_id": article["id"], "value": 1}
    response = app.post_json("/example/evaluations", body, status=201)
    evaluation = response.json
    check_evaluation(evaluation)
    assert evaluation["value"] == 1
    assert isinstance(evaluation["value"], int)
    assert evaluation["evaluator"]["id"] == bonnie["id"]
    assert evaluation["evaluator"]["reputation"] == pytest.approx(99.90692517849118, rel=1e-12)
    assert evaluation["contribution"]["id"] == article["id"]
    assert evaluation["contribution"]["contributor"]["tokens"] == pytest.approx(
        54.45454545454545, rel=1e-12
    )
    assert moment(evaluation["created_at"]) == clock.now
    location = response.headers["Location"]
    assert location == f"http://localhost/example/evaluations/{evaluation['id']}"
    assert app.get(location).json == evaluation


def test_same_value_again_answers_200_with_the_existing_evaluation(app, api, unchanged, clock):
    ann = api.user(reputation=10, tokens=10)
    bonnie = api.user(reputation=100, tokens=99)
    article = api.contribution(ann["id"])["id"]
    first = api.vote(bonnie["id"], article, 1)
    clock.advance(days=3)
    for value in (1, 1.0, True):
        with unchanged():
            body = {"evaluator_id": bonnie["id"], "contribution_id": article, "value": value}
            response = app.post_json("/example/evaluations", body, status=200)
        assert "Location" not in response.headers
        again = response.json
        check_evaluation(again)
        assert again["id"] == first["id"]
        assert again["value"] == 1
        assert again["created_at"] == first["created_at"]
        assert again["evaluator"] == api.get(f"/example/users/{bonnie['id']}")


def test_another_value_supersedes_the_vote(api):
    ann = api.user()
    bonnie = api.user()
    article = api.contribution(ann["id"])["id"]
    first = api.vote(bonnie["id"], article, 1)
    second = api.vote(bonnie["id"], article, 0)
    assert second["id"] != first["id"]
    assert second["value"] == 0
    assert second["contribution"]["stats"]["evaluations"]["1"]["reputation"] == 0
    assert second["contribution"]["stats"]["evaluations"]["0"]["reputation"] > 0
    # the superseded vote is kept for the record and still readable
    assert api.get(f"/example/evaluations/{first['id']}")["value"] == 1
    assert api.ids("/example/evaluations") == [second["id"]]
    listed = api.ids("/example/evaluations", include_superseded="true")
    assert listed == [first["id"], second["id"]]
    # back to 1: a third evaluation, and a repeat of it changes nothing
    third = api.vote(bonnie["id"], article, 1)
    assert third["id"] not in (first["id"], second["id"])
    assert api.vote(bonnie["id"], article, 1, status=200)["id"] == third["id"]


# -- collections ---------------------------------------------------------------------------------


def test_collections_shapes(api):
    ann = api.user(reputation=10)
    bob = api.user(referrer_id=ann["id"])
    article = api.contribution(ann["id"])
    vote = api.vote(bob["id"], article["id"], 1)

    users = check_collection(api.get("/example/users"), total=2)
    for user in users:
        check_user(user, referrer=ann["id"] if user["id"] == bob["id"] else None)
    assert [u["id"] for u in users] == [ann["id"], bob["id"]]

    contributions = check_collection(api.get("/example/contributions"), total=1)
    check_contribution(contributions[0])
    assert contributions[0] == api.get(f"/example/contributions/{article['id']}")

    evaluations = check_collection(api.get("/example/evaluations"), total=1)
    check_evaluation(evaluations[0])
    assert evaluations[0] == api.get(f"/example/evaluations/{vote['id']}")

    history = check_collection(api.get(f"/example/users/{ann['id']}/history"), total=3)
    assert len(history) == 3

    empty = check_collection(api.get("/dmag/users", limit=5, start=2), total=0, limit=5, start=2)
    assert empty == []


# -- the service and its contracts ---------------------------------------------------------------


def test_service_lists_its_contracts(app):
    service = app.get("/").json
    assert set(service) == {"version", "contracts"}
    assert isinstance(service["version"], str)
    assert service["version"]
    contracts = {c["name"]: c for c in service["contracts"]}
    assert set(contracts) == {"example", "dmag", "whitepaper1", "rewarded", "burning"}
    for name, contract in contracts.items():
        assert set(contract) == {"name", "kind", "url"}
        assert contract["url"] == f"http://localhost/{name}"
        assert app.get(contract["url"]).json["name"] == name
    assert contracts["rewarded"]["kind"] == "example"
    assert contracts["whitepaper1"]["kind"] == "whitepaper1"


def test_contract_parameters_and_types(api):
    example = api.get("/example")
    assert example["name"] == "example"
    assert example["kind"] == "example"
    assert example["parameters"] == {
        "user_initial_tokens": 50,
        "user_initial_reputation": 20,
        "beta": 0.5,
        "alpha": 0,
        "referral_reward_fraction": 0.2,
        "referral_timeframe_days": 30,
        "reward_tokens_to_evaluators": False,
        "allow_self_evaluation": False,
        "max_vote_changes": 5,
        "evaluations_per_day": None,
        "evaluations_per_contributor_per_day": None,
    }
    assert example["default_type"] == "article"
    article, comment = example["types"]["article"], example["types"]["comment"]
    assert set(example["types"]) == {"article", "comment"}
    assert (article["fee"], comment["fee"]) == (1, 0.1)
    assert article["evaluation_set"] == comment["evaluation_set"] == [0, 1]
    assert article["stake"] == 0.02
    assert article["distribution_stake"] == 0.08
    assert article["reputation_reward_factor"] == 5
    assert article["token_reward_factor"] == 50
    assert article["reward_threshold"] == 0.5
    assert article["token_fund_for_evaluators"] == 10
    assert comment["token_fund_for_evaluators"] == 2
    moment(example["created_at"])

    assert api.get("/burning")["parameters"]["alpha"] == 0.7
    assert api.get("/rewarded")["parameters"]["reward_tokens_to_evaluators"] is True
    dmag = api.get("/dmag")
    assert dmag["parameters"]["beta"] == 0.6
    assert dmag["types"]["comment"]["fee"] == 0.2
    whitepaper1 = api.get("/whitepaper1")
    assert whitepaper1["kind"] == "whitepaper1"
    assert set(whitepaper1["types"]) == {"contribution"}
    assert sorted(whitepaper1["types"]["contribution"]["evaluation_set"]) == [0, 1]


def test_contract_totals_are_live(api):
    zero = {"users": 0, "contributions": 0, "evaluations": 0, "reputation": 0, "tokens": 0}
    assert api.get("/example")["totals"] == zero
    ann = api.user(reputation=10, tokens=10)
    bonnie = api.user(reputation=100, tokens=99)
    api.user("dmag")  # another contract
    assert api.get("/example")["totals"] == {**zero, "users": 2, "reputation": 110, "tokens": 109}
    article = api.contribution(ann["id"])["id"]
    api.vote(bonnie["id"], article, 1)
    api.vote(bonnie["id"], article, 1, status=200)  # a repeat is not another evaluation
    users = api.items("/example/users")
    totals = api.get("/example")["totals"]
    assert totals["users"] == 2
    assert totals["contributions"] == 1
    assert totals["evaluations"] == 1
    assert totals["reputation"] == pytest.approx(sum(u["reputation"] for u in users), rel=1e-12)
    assert totals["tokens"] == pytest.approx(sum(u["tokens"] for u in users), rel=1e-12)
    assert totals["tokens"] == pytest.approx(99 + 54.45454545454545, rel=1e-12)
    api.vote(bonnie["id"], article, 0)  # a re-vote replaces, it does not add
    assert api.get("/example")["totals"]["evaluations"] == 1
    assert api.get("/dmag")["totals"]["users"] == 1


def test_created_at_is_the_request_time_in_utc(api, clock):
    clock.now = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    user = api.user()
    assert user["created_at"] == "2026-03-04T05:06:07.890000Z"
    clock.advance(seconds=1)
    contribution = api.contribution(user["id"])
    assert moment(contribution["created_at"]) - moment(user["created_at"]) == timedelta(seconds=1)
    clock.advance(days=1)
    vote = api.vote(api.user()["id"], contribution["id"], 1)
    assert moment(vote["created_at"]) == clock.now
    # reading later does not change when things were created
    assert api.get(f"/example/users/{user['id']}")["created_at"] == user["created_at"]
