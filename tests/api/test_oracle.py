"""The API against the engine's in-memory oracle: the same random actions give the same state.

A seeded sequence of a few hundred actions (users with and without referrers, contributions,
votes, repeats and re-votes, invalid actions of every kind, the clock jumping forward past the
30 days of referral bonuses) is sent through HTTP and applied to ``protocol.Simulation`` on
the same clock. A request is refused (a 400, or the status of a refusal that is not a
validation error) exactly when the simulation raises, and at each checkpoint every balance
and every contribution's ``max_score`` and ``token_fund`` in the database equal the
simulation's to 1e-9 relative.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import ContractRow, Contribution, User
from protocol import (
    BalanceLimitExceeded,
    ProtocolError,
    SelfEvaluationRefused,
    Simulation,
    TooManyVoteChanges,
    create_contract,
)

ACTIONS = 200
CHECKPOINTS = 4
MISSING = 10**6  # an id that exists nowhere
CONTRACTS = {
    "example": ("example", {}),
    "dmag": ("dmag", {}),
    "whitepaper1": ("whitepaper1", {}),
    "rewarded": ("example", {"reward_tokens_to_evaluators": True}),
}


REFUSAL_STATUS = {SelfEvaluationRefused: 403, TooManyVoteChanges: 409, BalanceLimitExceeded: 409}
"""The statuses of the engine's refusals that are not a 400."""


@dataclass
class Twin:
    """The same community in the API (ids from the database) and in the simulation."""

    app: TestApp
    contract: str
    simulation: Simulation
    foreign_user: int  # an API id of a user of another contract
    users: list[tuple[int, int]] = field(default_factory=list)  # (API id, simulation id)
    contributions: list[tuple[int, int]] = field(default_factory=list)
    votes: dict[tuple[int, int], Any] = field(default_factory=dict)  # active value by pair
    outcomes: dict[str, int] = field(default_factory=dict)

    def apply(
        self, path: str, body: dict[str, Any], action: Callable[[], Any]
    ) -> tuple[dict | None, Any]:
        """POST ``body`` and run ``action`` on the simulation; both must agree on refusal.

        Returns the API's object and the simulation's result, or two Nones when refused.
        """
        response = self.app.post_json(f"/{self.contract}/{path}", body, expect_errors=True)
        try:
            result = action()
        except ProtocolError as error:
            refusal: ProtocolError | None = error
        else:
            refusal = None
        if refusal is not None:
            status = REFUSAL_STATUS.get(type(refusal), 400)
            assert response.status_int == status, (body, refusal.message, response.text)
            self.count(f"{path} refused")
            return None, None
        assert response.status_int in (200, 201), (body, response.text)
        self.count(f"{path} {response.status_int}")
        if path == "evaluations":  # 201 for a new evaluation, 200 for a repeat
            assert (response.status_int == 201) == result.created, body
        return response.json, result

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def pick_user(rng: random.Random, twin: Twin) -> tuple[Any, Any]:
    """A user reference for both sides: mostly a real user, sometimes not one of this
    contract (missing, 0, or a user of another contract)."""
    roll = rng.random()
    if twin.users and roll < 0.9:
        return rng.choice(twin.users)
    if roll < 0.94:
        return MISSING, MISSING
    if roll < 0.97:
        return 0, 0
    return twin.foreign_user, MISSING


def create_user(rng: random.Random, twin: Twin) -> None:
    body: dict[str, Any] = {}
    kind = rng.random()
    if kind < 0.6:
        body["reputation"] = rng.choice([0.0, rng.uniform(0, 50), float(rng.randint(1, 30))])
    elif kind < 0.65:
        body["reputation"] = -rng.uniform(0.001, 5)  # refused
    elif kind < 0.67:
        body["reputation"] = math.nan  # refused (json.dumps writes NaN)
    if rng.random() < 0.5:
        body["tokens"] = rng.choice([rng.uniform(0, 1.5), rng.uniform(0, 60), 0.0])
    elif rng.random() < 0.05:
        body["tokens"] = -1.0  # refused
    simulation_referrer = None
    if rng.random() < 0.5:
        body["referrer_id"], simulation_referrer = pick_user(rng, twin)

    def action() -> int:
        return twin.simulation.create_user(
            reputation=body.get("reputation"),
            tokens=body.get("tokens"),
            referrer_id=simulation_referrer,
        )

    created, simulation_id = twin.apply("users", body, action)
    if created is not None:
        twin.users.append((created["id"], simulation_id))
        if "referrer_id" in body:
            twin.count("referred users")


def create_contribution(rng: random.Random, twin: Twin) -> None:
    contributor, simulation_contributor = pick_user(rng, twin)
    body: dict[str, Any] = {"contributor_id": contributor}
    roll = rng.random()
    if roll < 0.6:
        body["type"] = rng.choice(list(twin.simulation.contract.params.types))
    elif roll < 0.65:
        body["type"] = "no-such-type"  # refused

    def action() -> int:
        return twin.simulation.create_contribution(simulation_contributor, body.get("type"))

    created, simulation_id = twin.apply("contributions", body, action)
    if created is not None:
        twin.contributions.append((created["id"], simulation_id))


def evaluate(rng: random.Random, twin: Twin) -> None:
    if twin.votes and rng.random() < 0.15:  # repeat an active vote: nothing may change
        (evaluator, contribution), value = rng.choice(list(twin.votes.items()))
    else:
        evaluator = pick_user(rng, twin)
        if twin.contributions and rng.random() < 0.95:
            contribution = rng.choice(twin.contributions)
        else:
            contribution = rng.choice([(MISSING, MISSING), (0, 0)])
        allowed = next(iter(twin.simulation.contract.params.types.values())).evaluation_set
        roll = rng.random()
        if roll < 0.9:
            value = rng.choice(allowed)
            value = int(value) if rng.random() < 0.5 else value
            if twin.simulation.contract.kind == "whitepaper1" and rng.random() < 0.3:
                value = bool(value)
        else:
            value = rng.choice([2, -1, 0.5])  # refused
    body = {"evaluator_id": evaluator[0], "contribution_id": contribution[0], "value": value}

    def action():
        return twin.simulation.evaluate(evaluator[1], contribution[1], value)

    stored, _ = twin.apply("evaluations", body, action)
    if stored is not None:
        assert stored["value"] == value
        twin.votes[(evaluator, contribution)] = value


def check_state(twin: Twin, db: sa.Engine) -> None:
    """Every balance, max_score and token_fund of the database equals the simulation's (a
    stored reputation times its contract's scale is the balance)."""
    simulation = twin.simulation
    with db.connect() as connection:
        users = {
            row.id: row
            for row in connection.execute(
                sa.select(
                    User.id,
                    (User.reputation * ContractRow.reputation_scale).label("reputation"),
                    User.tokens,
                ).join(ContractRow, ContractRow.id == User.contract_id)
            )
        }
        contributions = {
            row.id: row
            for row in connection.execute(
                sa.select(Contribution.id, Contribution.max_score, Contribution.token_fund)
            )
        }
        total = connection.scalar(
            sa.select(ContractRow.total_reputation).where(ContractRow.name == twin.contract)
        )
    for api_id, simulation_id in twin.users:
        stored = users[api_id]
        expected = simulation.party(simulation_id)
        assert close(stored.reputation, expected.reputation), (api_id, "reputation")
        assert close(stored.tokens, expected.tokens), (api_id, "tokens")
    for api_id, simulation_id in twin.contributions:
        stored = contributions[api_id]
        assert close(stored.max_score, simulation.contributions.max_score[simulation_id - 1])
        assert close(stored.token_fund, simulation.contributions.token_fund[simulation_id - 1])
    assert close(total, simulation.total_reputation)


def close(stored: float, expected: float) -> bool:
    return math.isclose(stored, float(expected), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("contract", list(CONTRACTS))
def test_api_state_equals_the_simulation(app, db, clock, contract):
    kind, overrides = CONTRACTS[contract]
    rules = create_contract(kind, overrides, name=contract)
    simulation = Simulation(rules, clock=lambda: clock.now.timestamp())
    other = "dmag" if contract != "dmag" else "example"
    foreign = app.post_json(f"/{other}/users", {}, status=201).json["id"]
    twin = Twin(app, contract, simulation, foreign)
    rng = random.Random(f"backfeed-oracle-{contract}")
    actions = [create_user, create_contribution, evaluate]
    for _ in range(4):
        create_user(rng, twin)
    for step in range(1, ACTIONS + 1):
        if rng.random() < 0.05:
            clock.advance(days=rng.uniform(0, 12))
        rng.choices(actions, weights=[2, 2, 6])[0](rng, twin)
        if step % (ACTIONS // CHECKPOINTS) == 0:
            check_state(twin, db)

    # the sequence went through every path, refusals included
    for outcome in (
        "users 201",
        "users refused",
        "contributions 201",
        "contributions refused",
        "evaluations 201",
        "evaluations 200",
        "evaluations refused",
    ):
        assert twin.outcomes.get(outcome, 0) >= 3, twin.outcomes
    assert twin.outcomes.get("referred users", 0) >= 10, twin.outcomes
    # and the scores the API shows are the simulation's
    listed = app.get(f"/{contract}/contributions", {"order_by": "time", "limit": 1000}).json
    scores = simulation.scores()
    by_api_id = dict(twin.contributions)
    for item in listed["items"]:
        assert close(item["stats"]["score"], scores[by_api_id[item["id"]] - 1])
