"""A third-party contract kind, installed as its own distribution, is served over HTTP."""

from __future__ import annotations

import math

import pytest

from protocol import Simulation, create_contract, installed_kinds


@pytest.fixture
def plugin_app(make_app):
    """The app serving the example plugin's ``quadratic`` kind beside ``example``."""
    assert "quadratic" in installed_kinds(), "install examples/backfeed-contract-quadratic"
    return make_app(**{"backfeed.contracts": "example quadratic rewarded:example burning:example"})


def test_the_plugin_contract_is_listed(plugin_app):
    contracts = {c["name"]: c["kind"] for c in plugin_app.get("/").json["contracts"]}
    assert contracts["quadratic"] == "quadratic"
    assert plugin_app.get("/quadratic").json["kind"] == "quadratic"


def test_votes_under_the_plugin_follow_its_rules(plugin_app, clock):
    simulation = Simulation(create_contract("quadratic"), clock=lambda: clock.now.timestamp())
    people = []
    for reputation in (10, 30, 60):
        user = plugin_app.post_json("/quadratic/users", {"reputation": reputation}).json
        people.append((user["id"], simulation.create_user(reputation)))
    contributor, _ = people[0]
    contribution = plugin_app.post_json(
        "/quadratic/contributions", {"contributor_id": contributor}
    ).json
    simulated_contribution = simulation.create_contribution(people[0][1])
    for api_id, sim_id in people[1:]:
        plugin_app.post_json(
            "/quadratic/evaluations",
            {"evaluator_id": api_id, "contribution_id": contribution["id"], "value": 1},
            status=201,
        )
        simulation.evaluate(sim_id, simulated_contribution, 1)
    for api_id, sim_id in people:
        user = plugin_app.get(f"/quadratic/users/{api_id}").json
        assert math.isclose(
            user["reputation"], simulation.users.reputation[sim_id - 1], rel_tol=1e-12
        )
        assert math.isclose(user["tokens"], simulation.users.tokens[sim_id - 1], rel_tol=1e-12)
    assert plugin_app.get(f"/quadratic/users/{contributor}").json["reputation"] != 10
