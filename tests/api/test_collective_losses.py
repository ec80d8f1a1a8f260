"""A ``whitepaper1`` vote's loss of every non-voter is one collective ledger entry: the rows a
vote writes follow its voters, not its community, and every balance still reads exactly.

The twin test sends a seeded sequence of users, contributions, votes and re-votes through
HTTP and applies it to ``protocol.Simulation``, which multiplies every non-voter's reputation
in memory; then every route that shows a balance (a user, the users by reputation, the
contributions' statistics by id and by score, the totals) agrees with the simulation to
1e-9 relative, each user's history lists exactly the changes of its balances that the
simulation made, with their causes and balances after, page by page, and the audit of
``backfeed check`` finds nothing. It runs with the scale's lower bound raised (so that it is
crossed and every stored reputation rescaled many times over) and, in a second contract,
with a factor that makes many votes take everything from the non-voters.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from webtest import TestApp

from backfeed_api.domain import scale
from backfeed_api.domain.audit import audit
from backfeed_api.models import ContractRow, LedgerEntry, LedgerExemption
from protocol import ProtocolError, Simulation, create_contract
from tests.conftest import TEST_CONTRACTS, Clock

from .conftest import Api

KIND = "whitepaper1"
STEEP = "contribution.reputation_reward_factor"
SETTINGS = {
    "backfeed.contracts": f"{TEST_CONTRACTS['backfeed.contracts']} crowd:{KIND} steep:{KIND}",
    f"backfeed.contract.steep.{STEEP}": "0.03",
}
"""The test contracts, another like ``whitepaper1``, and one where a voter with 1/0.03 = 33.3
reputation or more takes everything from the non-voters."""
OVERRIDES = {KIND: {}, "steep": {STEEP: 0.03}}


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    return make_app(**SETTINGS)


def written(db: sa.Engine, contract: str) -> int:
    """The rows of the contract's ledger and exemptions."""
    with db.connect() as connection:
        contract_id = connection.scalar(
            sa.select(ContractRow.id).where(ContractRow.name == contract)
        )
        entries = connection.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.contract_id == contract_id)
        )
        exemptions = connection.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerExemption)
            .join(LedgerEntry, LedgerEntry.id == LedgerExemption.ledger_id)
            .where(LedgerEntry.contract_id == contract_id)
        )
    return entries + exemptions


def test_a_vote_writes_as_many_rows_among_200_users_as_among_10(app, db):
    """The same three votes and a fourth among 10 users and among 200: the fourth writes
    the same rows in both, and every silent user's history still shows its three losses,
    as the simulation computes them."""
    api = Api(app)
    rows = {}
    for contract, users in ((KIND, 10), ("crowd", 200)):
        simulation = Simulation(create_contract(KIND))
        ids = [api.user(contract)["id"] for _ in range(users)]  # author, 3 voters, newcomer
        for _ in ids:
            simulation.create_user()
        contribution = api.contribution(ids[0], contract)["id"]
        simulation.create_contribution(1)
        for voter in range(1, 4):
            api.vote(ids[voter], contribution, 1, contract)
            simulation.evaluate(voter + 1, 1, 1)
        before = written(db, contract)
        api.vote(ids[4], contribution, 1, contract)
        simulation.evaluate(5, 1, 1)
        rows[contract] = written(db, contract) - before
        for silent in (5, 6, users - 1):
            *losses, opening = api.items(f"/{contract}/users/{ids[silent]}/history")
            assert opening["cause"] == {"type": "user", "id": ids[silent]}
            assert [loss["cause"]["type"] for loss in losses] == ["evaluation"] * 3
            for newer, older in zip(losses, [*losses[1:], opening], strict=True):
                assert newer["reputation"] < older["reputation"]
                assert newer["reputation_delta"] == pytest.approx(
                    newer["reputation"] - older["reputation"], rel=1e-9
                )
            expected = simulation.party(silent + 1).reputation
            assert losses[0]["reputation"] == pytest.approx(expected, rel=1e-12)
            now = api.get(f"/{contract}/users/{ids[silent]}")["reputation"]
            assert now == pytest.approx(expected, rel=1e-12)
    # the collective loss, the gains of the 3 earlier voters, an exemption for each of the 4
    assert rows == {KIND: 1 + 3 + 4, "crowd": 1 + 3 + 4}


@dataclass
class Twin:
    """One contract in the API and in the simulation, and what each action changed."""

    api: Api
    contract: str
    simulation: Simulation
    users: list[int] = field(default_factory=list)  # API ids; simulation id = index + 1
    contributions: list[tuple[int, int]] = field(default_factory=list)  # (API id, contributor)
    values: dict[tuple[int, int], list[float]] = field(default_factory=dict)  # per pair
    expected: dict[int, list[tuple[str, int, float, float]]] = field(default_factory=dict)

    def record(self, cause: str, cause_id: int, before: list[tuple[float, float]]) -> None:
        """Note, for each user whose balances the last action changed, the entry its
        history must show: the cause and the balances after."""
        users = self.simulation.users
        for index, api_id in enumerate(self.users):
            after = (float(users.reputation[index]), float(users.tokens[index]))
            if index >= len(before) or after != before[index]:
                self.expected.setdefault(api_id, []).append((cause, cause_id, *after))

    def balances(self) -> list[tuple[float, float]]:
        users = self.simulation.users
        return [
            (float(users.reputation[i]), float(users.tokens[i])) for i in range(len(self.users))
        ]


def join(twin: Twin, reputation: float) -> None:
    """A new user."""
    before = twin.balances()
    twin.users.append(twin.api.user(twin.contract, reputation=reputation)["id"])
    twin.simulation.create_user(reputation)
    twin.record("user", twin.users[-1], before)


def contribute(twin: Twin, author: int) -> None:
    """A new contribution by the ``author``-th user."""
    before = twin.balances()
    created = twin.api.contribution(twin.users[author], twin.contract)["id"]
    twin.simulation.create_contribution(author + 1)
    twin.contributions.append((created, author))
    twin.record("contribution", created, before)


def play(twin: Twin, rng: random.Random, clock: Clock, users: int, votes: int) -> None:
    """Users with random reputation, contributions, then votes and re-votes, a newcomer with
    less reputation every 8 votes and a contribution of the latest every 16; a request the
    simulation refuses must be refused by the API too."""
    for _ in range(users):
        join(twin, round(rng.uniform(5, 40), 6))
    for _ in range(5):
        contribute(twin, rng.randrange(users))
    for turn in range(votes):
        clock.advance(seconds=1)
        if turn % 8 == 7:
            join(twin, round(rng.uniform(1, 15), 6))
        if turn % 16 == 15:  # a fee paid under a scale that is no longer 1
            contribute(twin, len(twin.users) - 1)
        number = rng.randrange(len(twin.contributions))
        api_contribution, author = twin.contributions[number]
        voter = rng.choice([u for u in range(len(twin.users)) if u != author])  # no self-vote
        held = twin.values.setdefault((voter, number), [])
        value = rng.choice([0, 1]) if len(held) < 4 else held[-1]  # a few changes per pair
        before = twin.balances()
        body = {
            "evaluator_id": twin.users[voter],
            "contribution_id": api_contribution,
            "value": value,
        }
        response = twin.api.app.post_json(
            f"/{twin.contract}/evaluations", body, expect_errors=True
        )
        try:
            outcome = twin.simulation.evaluate(voter + 1, number + 1, value)
        except ProtocolError:
            assert 400 <= response.status_int < 500, response.text
            continue
        assert response.status_int == (201 if outcome.created else 200), response.text
        if outcome.created:
            held.append(value)
            twin.record("evaluation", response.json["id"], before)


def close(stored: float, expected: float) -> bool:
    return math.isclose(stored, expected, rel_tol=1e-9, abs_tol=1e-12)


def check_balances(twin: Twin) -> None:
    """Every route showing a balance agrees with the simulation."""
    api, contract, simulation = twin.api, twin.contract, twin.simulation
    expected = {api_id: twin.balances()[i][0] for i, api_id in enumerate(twin.users)}
    total = simulation.total_reputation
    for api_id, reputation in expected.items():
        user = api.get(f"/{contract}/users/{api_id}")
        assert close(user["reputation"], reputation), (api_id, user, reputation)
        assert close(user["total_reputation"], total)
    for order in ("-reputation", "reputation"):
        listed = api.items(f"/{contract}/users", order_by=order, limit=1000)
        assert sorted(user["id"] for user in listed) == sorted(expected)
        shown = [user["reputation"] for user in listed]
        assert shown == sorted(shown, reverse=order.startswith("-"))
        for user in listed:
            assert close(user["reputation"], expected[user["id"]]), user
    by_score = {c["id"]: c for c in api.items(f"/{contract}/contributions", order_by="-score")}
    for number, (api_id, _) in enumerate(twin.contributions):
        voted = simulation.voted_reputation(number + 1)
        for shown in (api.get(f"/{contract}/contributions/{api_id}"), by_score[api_id]):
            for value in ("0", "1"):
                share = shown["stats"]["evaluations"][value]["reputation"]
                assert close(share * total, voted.get(float(value), 0.0)), (api_id, value)


def check_histories(twin: Twin) -> None:
    """Each user's history, read in pages of 7, is the list of its changes, newest first,
    with their causes and balances after; its deltas chain from one entry to the next."""
    for api_id in twin.users:
        path = f"/{twin.contract}/users/{api_id}/history"
        expected = twin.expected.get(api_id, [])
        entries, start = [], 0
        while True:
            page = twin.api.get(path, limit=7, start=start)
            assert page["_meta"]["total"] == len(expected), (api_id, start)
            entries += page["items"]
            start += 7
            if start >= len(expected):
                assert page["count"] == len(expected) - (start - 7)
                break
            assert page["count"] == 7
        assert entries == twin.api.items(path, limit=1000)
        reputation = 0.0
        for entry, (cause, cause_id, after, tokens) in zip(
            reversed(entries), expected, strict=True
        ):
            assert entry["cause"] == {"type": cause, "id": cause_id}, (api_id, entry)
            assert close(entry["reputation"], after), (api_id, entry, after)
            assert close(entry["tokens"], tokens), (api_id, entry, tokens)
            assert math.isclose(
                reputation + entry["reputation_delta"], after, rel_tol=1e-9, abs_tol=1e-9
            ), (api_id, entry)
            reputation = entry["reputation"]
        ids = [entry["id"] for entry in entries]
        assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("contract", [KIND, "steep"])
def test_every_balance_list_and_history_is_exact_after_many_votes(
    app, db, clock, monkeypatch, contract
):
    monkeypatch.setattr(scale, "RESCALE_BITS", 1)
    monkeypatch.setattr(scale, "SMALLEST_SCALE", 0.5)
    rules = create_contract(KIND, OVERRIDES[contract])
    twin = Twin(Api(app), contract, Simulation(rules, clock=lambda: clock.now.timestamp()))
    play(twin, random.Random(f"losses-{contract}"), clock, users=12, votes=150)
    check_balances(twin)
    check_histories(twin)
    with Session(db) as session:
        assert audit(session, app.app.registry["contracts"].get(contract)) == []
        row = session.scalars(sa.select(ContractRow).where(ContractRow.name == contract)).one()
        collective = session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.contract_id == row.id, LedgerEntry.user_id.is_(None))
        )
        wiped = session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.contract_id == row.id,
                LedgerEntry.cause_type == "evaluation",
                LedgerEntry.reputation == 0,
                LedgerEntry.reputation_delta < 0,
            )
        )
    if contract == "steep":  # collective losses, and votes taking everything, an entry each
        assert collective > 5
        assert wiped > 10
    else:  # many collective losses, and the scale was rescaled many times
        assert collective > 50
        assert row.scale_exponent >= 2
        assert wiped == 0
