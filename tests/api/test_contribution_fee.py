"""The contribution fee is one rule of the engine, which the service and the simulator both
call: the same refusal, word for word, and the same charge, whatever the rule says."""

from __future__ import annotations

import pytest

from protocol import Contract, ContributionType, InsufficientTokens, Simulation, create_contract

from .conftest import assert_error


def test_a_contributor_who_cannot_pay_is_refused_alike(app, api, clock):
    simulation = Simulation(create_contract("example"), clock=lambda: clock.now.timestamp())
    poor = simulation.create_user(tokens=0.5)
    with pytest.raises(InsufficientTokens) as refusal:
        simulation.create_contribution(poor)
    user = api.user(tokens=0.5)
    response = app.post_json(
        "/example/contributions", {"contributor_id": user["id"]}, expect_errors=True
    )
    errors = assert_error(response, 400, name="contributor_id")
    assert [error["description"] for error in errors] == [refusal.value.message]


def test_both_charge_what_the_engine_says(app, api, clock, monkeypatch):
    fee = create_contract("example").contribution_type().fee

    def dearer(self: Contract, contribution_type: ContributionType, tokens: float) -> float:
        if tokens < contribution_type.fee + 2:
            raise InsufficientTokens("cannot pay the dearer fee", "contributor_id")
        return contribution_type.fee + 2

    monkeypatch.setattr(Contract, "contribution_fee", dearer)
    simulation = Simulation(create_contract("example"), clock=lambda: clock.now.timestamp())
    contributor = simulation.create_user(tokens=10)
    simulation.create_contribution(contributor)
    user = api.user(tokens=10)
    api.contribution(user["id"])
    tokens = api.get(f"/example/users/{user['id']}")["tokens"]
    assert tokens == pytest.approx(10 - fee - 2)
    assert tokens == pytest.approx(float(simulation.users.tokens[contributor - 1]))

    with pytest.raises(InsufficientTokens, match="dearer"):
        simulation.create_contribution(simulation.create_user(tokens=fee + 1))
    poorer = api.user(tokens=fee + 1)
    response = app.post_json(
        "/example/contributions", {"contributor_id": poorer["id"]}, expect_errors=True
    )
    errors = assert_error(response, 400, name="contributor_id")
    assert [error["description"] for error in errors] == ["cannot pay the dearer fee"]
