"""What-if replays of a contract's stored history (``backfeed_api.domain.replay``).

A history is written through the API (users, some referred, contributions, votes and
re-votes, time passing), and the test keeps the same actions as its own list. With no
override the replay gives every stored balance; with overrides it gives what the engine,
run directly on the test's list under those parameters, gives; the actions the new rules
refuse are listed with those that depended on them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from sqlalchemy.orm import Session
from webtest import TestApp

from backfeed_api.domain import replay as replay_module
from backfeed_api.domain.replay import what_if
from protocol import ConfigurationError, ProtocolError, Simulation, create_contract
from tests.conftest import Clock

from .conftest import Api

CONTRACTS = ["example", "dmag", "whitepaper1", "rewarded", "burning"]


@dataclass
class Played:
    """The actions sent, as (kind, arguments, moment), and the ids the API gave."""

    actions: list[tuple[str, tuple, float]] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    contributions: list[int] = field(default_factory=list)


def play(api: Api, clock: Clock, contract: str, seed: int = 1, votes: int = 80) -> Played:
    """A small random history on ``contract``, every refused request left out."""
    rng = random.Random(f"{contract}-{seed}")
    played = Played()

    def user(**fields) -> None:
        created = api.user(contract, **fields)
        played.users.append(created["id"])
        referrer = fields.get("referrer_id")
        arguments = (created["reputation"], created["tokens"], referrer)
        played.actions.append(("user", arguments, clock.now.timestamp()))

    def contribute() -> None:
        author = rng.choice(played.users)
        response = api.app.post_json(
            f"/{contract}/contributions", {"contributor_id": author}, expect_errors=True
        )
        if response.status_int == 201:
            played.contributions.append(response.json["id"])
            played.actions.append(("contribution", (author,), clock.now.timestamp()))

    for number in range(8):
        referrer = played.users[0] if number in (3, 5) else None
        fields = {"reputation": rng.uniform(5, 50), "tokens": 50.0}
        user(**fields, **({"referrer_id": referrer} if referrer else {}))
    for _ in range(3):
        contribute()
    for step in range(votes):
        if step % 20 == 19:
            clock.advance(days=12)
            contribute()
        body = {
            "evaluator_id": rng.choice(played.users),
            "contribution_id": rng.choice(played.contributions),
            "value": rng.choice([0, 1, 1]),
        }
        response = api.app.post_json(f"/{contract}/evaluations", body, expect_errors=True)
        if response.status_int in (200, 201):
            arguments = (body["evaluator_id"], body["contribution_id"], body["value"])
            played.actions.append(("evaluation", arguments, clock.now.timestamp()))
    return played


def run_directly(played: Played, kind: str, overrides: dict) -> Simulation:
    """The played actions applied to the engine directly, each refused one skipped."""
    moment = [0.0]
    simulation = Simulation(create_contract(kind, overrides), clock=lambda: moment[0])
    users: dict[int, int] = {}
    contributions: dict[int, int] = {}
    user_ids = iter(played.users)
    contribution_ids = iter(played.contributions)
    for kind_of, arguments, at in played.actions:
        moment[0] = at
        try:
            if kind_of == "user":
                reputation, tokens, referrer = arguments
                database_id = next(user_ids)
                users[database_id] = simulation.create_user(
                    reputation, tokens, None if referrer is None else users[referrer]
                )
            elif kind_of == "contribution":
                database_id = next(contribution_ids)
                contributions[database_id] = simulation.create_contribution(users[arguments[0]])
            else:
                evaluator, contribution, value = arguments
                simulation.evaluate(users[evaluator], contributions[contribution], value)
        except (ProtocolError, KeyError):
            continue
    return simulation


@pytest.fixture
def replay_of(app: TestApp, db) -> Callable[..., object]:
    """Replay a contract of the test application with overrides."""

    def replay(contract: str, **overrides):
        served = app.app.registry["contracts"].get(contract)
        with Session(db) as session, session.begin():
            return what_if(session, served.row_id, served.rules, overrides)

    return replay


@pytest.mark.parametrize("contract", CONTRACTS)
def test_without_overrides_the_replay_gives_the_stored_balances(
    app: TestApp, api: Api, clock: Clock, replay_of, contract: str
) -> None:
    played = play(api, clock, contract)
    stored = {user["id"]: user for user in api.items(f"/{contract}/users", limit=100)}

    result = replay_of(contract)

    assert result.refused == []
    assert result.user_ids.tolist() == played.users
    expected = np.array([stored[user_id]["reputation"] for user_id in played.users])
    np.testing.assert_allclose(result.actual_reputation, expected, rtol=1e-12)
    np.testing.assert_allclose(result.what_if_reputation, expected, rtol=1e-9, atol=1e-9)
    tokens = np.array([stored[user_id]["tokens"] for user_id in played.users])
    np.testing.assert_allclose(result.what_if_tokens, tokens, rtol=1e-9, atol=1e-9)
    summary = result.summary()
    assert summary["gainers"] == [] or max(abs(u["change"]) for u in summary["gainers"]) < 1e-9
    assert summary["actual"]["gini"] == pytest.approx(summary["what_if"]["gini"], abs=1e-9)


def test_votes_read_a_few_at_a_time_come_in_commit_order(
    api: Api, clock: Clock, replay_of, monkeypatch
) -> None:
    """The votes, read as columns and turned into rows a batch at a time, interleave with
    the users and contributions as they were committed, across every batch's edge."""
    played = play(api, clock, "example", votes=40)
    whole = replay_of("example")
    monkeypatch.setattr(replay_module, "VOTES_AT_ONCE", 3)

    batched = replay_of("example")

    assert batched.refused == []
    assert batched.user_ids.tolist() == played.users
    assert batched.what_if_reputation.tobytes() == whole.what_if_reputation.tobytes()
    assert batched.what_if_tokens.tobytes() == whole.what_if_tokens.tobytes()
    np.testing.assert_allclose(
        batched.what_if_reputation, batched.actual_reputation, rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize(
    ("contract", "overrides"),
    [
        ("example", {"article.stake": 0.05, "alpha": 0.7}),
        ("whitepaper1", {"contribution.reputation_reward_factor": 0.01}),
        ("dmag", {"referral_reward_fraction": 0.5}),
    ],
)
def test_a_parameter_change_gives_what_the_engine_gives(
    api: Api, clock: Clock, replay_of, contract: str, overrides: dict
) -> None:
    played = play(api, clock, contract)
    kind = "example" if contract in ("rewarded", "burning") else contract

    result = replay_of(contract, **overrides)

    direct = run_directly(played, kind, overrides)
    np.testing.assert_allclose(result.what_if_reputation, direct.users.reputation, rtol=1e-12)
    np.testing.assert_allclose(result.what_if_tokens, direct.users.tokens, rtol=1e-12)
    assert not np.allclose(result.what_if_reputation, result.actual_reputation)
    summary = result.summary(top=3)
    change = result.what_if_reputation - result.actual_reputation
    for side, best in (("gainers", change.max()), ("losers", change.min())):
        listed = [user["change"] for user in summary[side]]
        assert len(listed) == min(3, int(np.sum(change > 0 if side == "gainers" else change < 0)))
        if listed:
            assert listed[0] == pytest.approx(best)
            assert listed == sorted(listed, key=abs, reverse=True)


def test_actions_the_new_rules_refuse_are_reported(api: Api, clock: Clock, replay_of) -> None:
    played = play(api, clock, "example")
    # Every user holds 50 tokens, less what it paid: at 45 a user pays for one article only.
    authors = [arguments[0] for kind, arguments, _ in played.actions if kind == "contribution"]
    assert len(authors) > len(set(authors)), "the history needs a second article by someone"

    result = replay_of("example", **{"article.fee": 45})

    direct = run_directly(played, "example", {"article.fee": 45})
    np.testing.assert_allclose(result.what_if_reputation, direct.users.reputation, rtol=1e-12)
    refused = {(refusal.kind, refusal.id) for refusal in result.refused}
    kept = direct.contributions.size
    assert sum(kind == "contribution" for kind, _ in refused) == len(played.contributions) - kept
    assert any(kind == "evaluation" for kind, _ in refused)
    reasons = {refusal.kind: refusal.reason for refusal in result.refused}
    assert "tokens" in reasons["contribution"]
    assert "which was refused" in reasons["evaluation"]
    counts = result.summary()["refused"]["counts"]
    assert counts["contributions"] == len(played.contributions) - kept
    assert counts["evaluations"] == sum(kind == "evaluation" for kind, _ in refused)


def test_a_bad_override_is_refused(api: Api, clock: Clock, replay_of) -> None:
    play(api, clock, "example", votes=5)

    with pytest.raises(ConfigurationError, match=r"name it <type>\.stake \(article\.stake, "):
        replay_of("example", stake=0.1)
    with pytest.raises(ConfigurationError, match=r"unknown contract parameter 'gamma': .* beta, "):
        replay_of("example", gamma=0.1)
    with pytest.raises(ConfigurationError, match="beta must be at least 0"):
        replay_of("example", beta=-1)


def test_the_command_reads_the_database_of_either_kind(
    api: Api, clock: Clock, database_url: str, tmp_path, capsys, monkeypatch
) -> None:
    from backfeed_api.cli import main
    from tests.conftest import TEST_CONTRACTS

    played = play(api, clock, "whitepaper1")
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    ini = tmp_path / "replay.ini"
    lines = [f"{key} = {value}" for key, value in TEST_CONTRACTS.items()]
    ini.write_text(
        "\n".join(["[app:main]", "use = egg:backfeed-api", f"sqlalchemy.url = {database_url}"])
        + "\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    capsys.readouterr()

    code = main(["replay", str(ini), "--contract", "whitepaper1", "--csv", "-"])

    out = capsys.readouterr().out
    assert code == 0
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [int(row[0]) for row in rows] == played.users
    for _, actual, changed, actual_tokens, changed_tokens in rows:
        assert float(changed) == pytest.approx(float(actual), rel=1e-9, abs=1e-9)
        assert float(changed_tokens) == pytest.approx(float(actual_tokens), rel=1e-9, abs=1e-9)
