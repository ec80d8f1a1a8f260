"""Reference scenarios 2, 3 and 4 of PROTOCOL.md through HTTP (scenario 1: test_smoke.py)."""

from __future__ import annotations

import pytest


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


SCENARIO_4_VOTES = [
    (1, "C1", 1),
    (2, "C1", 0),
    (3, "C1", 1),
    (4, "C2", 1),
    (5, "C2", 0),
    (1, "C2", 1),
    (2, "C1", 1),
    (3, "C1", 0),
    (4, "C1", 1),
    (5, "C2", 1),
]
# reputation of users 1-5, then tokens of users 2 and 3, after each vote
SCENARIO_4_ROWS = [
    [19.7788854382, 20, 20, 20, 20, 49, 49],
    [19.7788854382, 19.8525613977, 20, 20, 20, 49, 49],
    [20.1972438528, 19.8525613977, 19.9094563837, 20, 20, 49, 49],
    [20.1972438528, 19.8525613977, 19.9094563837, 19.7789218868, 20, 49, 49],
    [20.1972438528, 19.8525613977, 19.9094563837, 19.7789218868, 19.8526130418, 49, 49],
    [20.1063878036, 19.8525613977, 19.9094563837, 20.2009009717, 19.8526130418, 49, 49],
    [
        *(20.4790529214, 22.7586066615, 20.2784714441, 20.2009009717, 19.8526130418),
        *(78.957593802, 49),
    ],
    [
        *(20.4790529214, 22.7586066615, 20.1905096878, 20.2009009717, 19.8526130418),
        *(78.957593802, 49),
    ],
    [
        *(20.8494436949, 23.2396740211, 20.1905096878, 20.1600844471, 19.8526130418),
        *(79.6520722031, 49),
    ],
    [
        *(21.2226262413, 23.2396740211, 23.1083725912, 20.5209282068, 19.7588766359),
        *(79.6520722031, 78.1786290345),
    ],
]


def test_scenario_4_burning_every_step(api):
    """``burning`` is ``example`` with alpha = 0.7; each row of the table to 1e-9."""
    users = [api.user("burning", reputation=20, tokens=50)["id"] for _ in range(5)]
    contributions = {
        "C1": api.contribution(users[1], "burning", type="article")["id"],
        "C2": api.contribution(users[2], "burning", type="article")["id"],
    }
    for step, ((user, contribution, value), row) in enumerate(
        zip(SCENARIO_4_VOTES, SCENARIO_4_ROWS, strict=True), start=1
    ):
        api.vote(users[user - 1], contributions[contribution], value, "burning")
        listed = {u["id"]: u for u in api.items("/burning/users")}
        reputation = [listed[i]["reputation"] for i in users]
        tokens = [listed[i]["tokens"] for i in users]
        assert reputation == pytest.approx(row[:5], abs=1e-9), f"step {step}"
        assert [tokens[1], tokens[2]] == pytest.approx(row[5:], abs=1e-9), f"step {step}"
        assert [tokens[0], tokens[3], tokens[4]] == [50, 50, 50], f"step {step}"
