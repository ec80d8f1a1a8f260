"""Reference scenarios 2, 3 and 4 through HTTP (scenario 1: test_smoke.py; their tables:
``tests/scenario_tables.py``, scenario 3 worked in ``docs/protocol.rst``)."""

from __future__ import annotations

import pytest

from ..scenario_tables import SCENARIO_4_TABLE, SCENARIO_4_VOTES


@pytest.mark.parametrize(
    ("a", "b", "contributor", "gain"),
    [
        (0.2, 0.2, 0.6, 0.0079555),
        (0.2, 0.8, 0.0, 0.0126865),
        (0.8, 0.2, 0.0, 0.0127946),
        (0.01, 0.01, 0.98, 0.0003964),
    ],
)
def test_scenario_2_first_voter_gains_from_the_second(api, a, b, contributor, gain):
    """On ``rewarded`` (tokens to evaluators): A votes 1, then B; A's gain from B's vote."""
    user_a = api.user("rewarded", reputation=a)["id"]
    user_b = api.user("rewarded", reputation=b)["id"]
    author = api.user("rewarded", reputation=contributor)["id"]
    article = api.contribution(author, "rewarded", type="article")["id"]
    api.vote(user_a, article, 1, "rewarded")
    before = api.get(f"/rewarded/users/{user_a}")["reputation"]
    api.vote(user_b, article, 1, "rewarded")
    after = api.get(f"/rewarded/users/{user_a}")["reputation"]
    assert after - before == pytest.approx(gain, abs=0.5e-7)
    # the contract rewards evaluators with tokens: A received some of the article's fund
    assert api.get(f"/rewarded/users/{user_a}")["tokens"] > 50


@pytest.mark.parametrize("value", [0, 1])
def test_scenario_3_dmag_vote_with_default_users_changes_no_reputation(api, value):
    author = api.user("dmag")
    voter = api.user("dmag")
    assert author["reputation"] == voter["reputation"] == 0
    article = api.contribution(author["id"], "dmag", type="article")["id"]
    vote = api.vote(voter["id"], article, value, "dmag")
    assert vote["value"] == value
    for user in api.items("/dmag/users"):
        assert user["reputation"] == 0
    stats = api.get(f"/dmag/contributions/{article}")["stats"]
    assert stats["engaged_reputation"] == stats["quality"] == stats["score"] == 0


def test_scenario_4_burning_every_step(api):
    """``burning`` is ``example`` with alpha = 0.7 and self-evaluation allowed (user 2 votes
    on its own article C1 at steps 2 and 7); each row of the table to 1e-9."""
    users = [api.user("burning", reputation=20, tokens=50)["id"] for _ in range(5)]
    contributions = {
        "C1": api.contribution(users[1], "burning", type="article")["id"],
        "C2": api.contribution(users[2], "burning", type="article")["id"],
    }
    for step, ((user, contribution, value), row) in enumerate(
        zip(SCENARIO_4_VOTES, SCENARIO_4_TABLE, strict=True), start=1
    ):
        api.vote(users[user - 1], contributions[contribution], value, "burning")
        listed = {u["id"]: u for u in api.items("/burning/users")}
        reputation = [listed[i]["reputation"] for i in users]
        tokens = [listed[i]["tokens"] for i in users]
        assert reputation == pytest.approx(list(row[:5]), abs=1e-9), f"step {step}"
        assert [tokens[1], tokens[2]] == pytest.approx(list(row[5:]), abs=1e-9), f"step {step}"
        assert [tokens[0], tokens[3], tokens[4]] == [50, 50, 50], f"step {step}"
