"""Every ledger entry explains itself: ``rule``, ``inputs``, ``formula``, ``config_version``.

Each formula, evaluated over its inputs by the tests' own evaluator, gives the entry's
deltas; a collective loss explains itself once (``GET /{contract}/ledger/{id}``) and each
user's share of it from the user's balance before it; an entry written before explanations
existed reads ``unexplained``.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backfeed_api.models import LedgerEntry

from ..protocol.formulas import agrees

DELTAS = ("reputation_delta", "tokens_delta")


def assert_explained(entry: dict) -> None:
    """The entry's formulas over its inputs give its deltas."""
    assert entry["config_version"] == 1
    for name in DELTAS:
        formula = entry["formula"][name]
        assert agrees(formula, entry["inputs"], entry[name]), (entry["rule"], name, entry)


def history(api, contract: str, user_id: int) -> list[dict]:
    return api.items(f"/{contract}/users/{user_id}/history")


def test_every_entry_of_a_base_rules_contract_explains_itself(api):
    referrer = api.user("rewarded", reputation=30)["id"]
    author = api.user("rewarded", reputation=10, tokens=10)["id"]
    voters = [
        api.user("rewarded", reputation=20 + i, referrer_id=referrer)["id"] for i in range(3)
    ]
    article = api.contribution(author, "rewarded", type="article")["id"]
    for voter in voters:
        api.vote(voter, article, 1, "rewarded")
    api.vote(voters[0], article, 0, "rewarded")
    rules = set()
    for user in [referrer, author, *voters]:
        for entry in history(api, "rewarded", user):
            assert_explained(entry)
            assert entry["user_id"] == user
            rules.add(entry["rule"])
    assert {
        "initial_balance",
        "contribution_fee",
        "evaluator_token_reward + evaluation_fee",
        "agreeing_evaluator_reward",
        "referral_reward",
        "contributor_reward",
    } <= rules


def test_an_entry_names_its_inputs_as_they_were(api):
    ann = api.user(reputation=10, tokens=10)["id"]
    bonnie = api.user(reputation=100, tokens=99)["id"]
    article = api.contribution(ann, type="article")["id"]
    api.vote(bonnie, article, 1)
    fee = history(api, "example", bonnie)[0]
    assert fee["rule"] == "evaluation_fee"
    assert fee["inputs"] == {
        "stake": 0.02,
        "evaluator_reputation": 100.0,
        "engaged_reputation": 100.0,
        "total_reputation": 110.0,
        "beta": 0.5,
    }
    assert fee["formula"]["tokens_delta"] == "0"
    opening = history(api, "example", ann)[-1]
    assert opening["rule"] == "initial_balance"
    assert opening["inputs"] == {"initial_reputation": 10.0, "initial_tokens": 10.0}


def test_a_collective_loss_explains_itself_once_and_each_share_from_the_balance(api):
    users = [api.user("whitepaper1", reputation=20 + i)["id"] for i in range(5)]
    contribution = api.contribution(users[0], "whitepaper1")["id"]
    api.vote(users[1], contribution, 1, "whitepaper1")
    api.vote(users[2], contribution, 1, "whitepaper1")
    gain = history(api, "whitepaper1", users[1])[0]
    assert gain["rule"] == "agreement_gain"
    assert_explained(gain)
    share = history(api, "whitepaper1", users[3])[0]
    assert share["rule"] == "non_voter_loss"
    assert share["inputs"]["reputation"] == pytest.approx(23.0)  # the first vote moves nothing
    assert_explained(share)
    collective = api.get(f"/whitepaper1/ledger/{share['id']}")
    assert collective["user_id"] is None
    assert collective["rule"] == "non_voter_loss"
    assert collective["formula"]["reputation_delta"].startswith("-min(")
    assert_explained(collective)


def test_one_entry_by_id(api):
    user = api.user()["id"]
    opening = history(api, "example", user)[0]
    assert api.get(f"/example/ledger/{opening['id']}") == opening


@pytest.mark.parametrize("path", ["/dmag/ledger/{id}", "/example/ledger/{other}"])
def test_an_entry_of_another_contract_or_none_is_a_404(api, path):
    user = api.user()["id"]
    entry = history(api, "example", user)[0]["id"]
    api.app.get(path.format(id=entry, other=entry + 1000), status=404)


def test_entries_written_before_explanations_read_unexplained(api, db):
    user = api.user()["id"]
    with db.begin() as connection:
        connection.execute(
            sa.update(LedgerEntry).where(LedgerEntry.user_id == user).values(terms=None)
        )
    (entry,) = history(api, "example", user)
    assert entry["rule"] == "unexplained"
    assert (entry["inputs"], entry["formula"], entry["config_version"]) == ({}, {}, None)
