"""``?dry_run=true`` on the three creating POSTs: the would-be answer, nothing written.

A dry run answers 200 with the object the action would create (``id`` null) and the ledger
entries it would write, explained; the database is the same row for row afterwards (no
idempotency claim either), the next real action gets the id it would have had, and its
entries are the ones the dry run predicted. The authorization is the real action's.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backfeed_api.models import LedgerEntry

from ..conftest import bearer, issue_token
from .conftest import assert_error

COMPARED = ("user_id", "rule", "inputs", "formula", "config_version")


def dry(app, path: str, body: dict, status: int = 200, **kwargs):
    return app.post_json(f"{path}?dry_run=true", body, status=status, **kwargs)


def comparable(entry: dict) -> tuple:
    """What a predicted entry and the stored one have in common, deltas to 1e-12."""
    deltas = tuple(round(entry[name], 12) for name in ("reputation_delta", "tokens_delta"))
    return (*(repr(entry[name]) for name in COMPARED), deltas)


def stored_entries(api, db, contract: str, cause: str, cause_id: int) -> list[dict]:
    """The entries the real action wrote, as ``GET /{contract}/ledger/{id}`` shows them."""
    with db.connect() as connection:
        ids = connection.scalars(
            sa.select(LedgerEntry.id).where(
                LedgerEntry.cause_type == cause, LedgerEntry.cause_id == cause_id
            )
        ).all()
    return [api.get(f"/{contract}/ledger/{entry_id}") for entry_id in ids]


def assert_predicted(api, db, contract, cause, cause_id, predicted) -> None:
    real = stored_entries(api, db, contract, cause, cause_id)
    assert real, "the real action wrote no entry"
    assert sorted(map(comparable, predicted)) == sorted(map(comparable, real))


def test_a_user_dry_run_writes_nothing_and_predicts_the_real_one(api, app, db, unchanged):
    first = api.user(reputation=5)["id"]
    with unchanged():
        answer = dry(app, "/example/users", {"reputation": 7, "tokens": 3}).json
    assert answer["dry_run"] is True
    assert (answer["id"], answer["reputation"], answer["tokens"]) == (None, 7.0, 3.0)
    assert answer["total_reputation"] == 12.0
    (opening,) = answer["entries"]
    assert opening["rule"] == "initial_balance"
    real = api.user(reputation=7, tokens=3)
    assert real["id"] == first + 1
    opening["user_id"] = real["id"]  # the dry run cannot know the id
    assert_predicted(api, db, "example", "user", real["id"], [opening])


def test_a_contribution_dry_run_writes_nothing_and_predicts_the_real_one(api, app, db, unchanged):
    author = api.user(tokens=10)["id"]
    earlier = api.contribution(author)["id"]
    with unchanged():
        answer = dry(app, "/example/contributions", {"contributor_id": author}).json
    assert answer["id"] is None
    assert answer["contributor"]["tokens"] == 8.0  # after the fee, as the real answer shows
    real = api.contribution(author)
    assert real["id"] == earlier + 1
    assert real["contributor"] == answer["contributor"]
    assert_predicted(api, db, "example", "contribution", real["id"], answer["entries"])


@pytest.mark.parametrize("contract", ["example", "rewarded", "whitepaper1"])
def test_a_vote_dry_run_writes_nothing_and_predicts_the_real_one(
    api, app, db, unchanged, contract
):
    users = [api.user(contract, reputation=20 + i)["id"] for i in range(5)]
    work = api.contribution(users[0], contract)["id"]
    before = api.vote(users[1], work, 1, contract)["id"]
    body = {"evaluator_id": users[2], "contribution_id": work, "value": 1}
    with unchanged():
        answer = dry(app, f"/{contract}/evaluations", body).json
    assert answer["id"] is None
    assert answer["dry_run"] is True
    real = app.post_json(f"/{contract}/evaluations", body, status=201).json
    assert real["id"] == before + 1
    for name in ("evaluator", "contribution"):
        assert real[name] == answer[name]
    assert_predicted(api, db, contract, "evaluation", real["id"], answer["entries"])
    if contract == "whitepaper1":
        assert [e["rule"] for e in answer["entries"] if e["user_id"] is None] == ["non_voter_loss"]


def test_a_vote_taking_everything_predicts_an_entry_per_non_voter(api, app, db, unchanged):
    # With this factor a voter of 40 reputation takes all of every non-voter's reputation:
    # a loss that cannot be a factor of the scale, written as one entry per non-voter.
    steep = {"contribution.reputation_reward_factor": 0.03}
    app.patch_json("/whitepaper1", {"parameters": steep}, status=200)
    users = [api.user("whitepaper1", reputation=40 + i)["id"] for i in range(5)]
    work = api.contribution(users[0], "whitepaper1")["id"]
    api.vote(users[1], work, 1, "whitepaper1")  # moves nothing: no one agreed before
    body = {"evaluator_id": users[2], "contribution_id": work, "value": 1}
    with unchanged():
        answer = dry(app, "/whitepaper1/evaluations", body).json
    shares = [entry for entry in answer["entries"] if entry["rule"] == "non_voter_loss"]
    assert sorted(entry["user_id"] for entry in shares) == [users[0], users[3], users[4]]
    assert all(entry["reputation_delta"] < 0 for entry in shares)
    real = app.post_json("/whitepaper1/evaluations", body, status=201).json
    assert_predicted(api, db, "whitepaper1", "evaluation", real["id"], answer["entries"])


def test_a_repeated_vote_dry_run_predicts_nothing(api, app, unchanged):
    author, voter = api.user()["id"], api.user()["id"]
    work = api.contribution(author)["id"]
    api.vote(voter, work, 1)
    body = {"evaluator_id": voter, "contribution_id": work, "value": 1}
    with unchanged():
        answer = dry(app, "/example/evaluations", body).json
    assert answer["entries"] == []
    assert answer["dry_run"] is True


def test_a_dry_run_claims_no_idempotency_key(api, app, unchanged):
    author = api.user()["id"]
    headers = {"Idempotency-Key": "the-same-key"}
    body = {"contributor_id": author}
    with unchanged():
        dry(app, "/example/contributions", body, headers=headers)
        dry(app, "/example/contributions", body, headers=headers)
    created = app.post_json("/example/contributions", body, headers=headers, status=201)
    again = app.post_json("/example/contributions", body, headers=headers, status=201)
    assert again.json == created.json


def test_a_refused_dry_run_is_refused_as_the_real_action(api, app, unchanged):
    poor = api.user(tokens=0)["id"]
    with unchanged():
        refused = dry(app, "/example/contributions", {"contributor_id": poor}, status=400)
        assert_error(refused, 400, name="contributor_id")
        dry(app, "/example/users", {"referrer_id": 10**6}, status=400)
        app.post_json("/example/users?dry_run=maybe", {}, status=400)


def test_a_dry_run_needs_the_real_action_s_permission(api, app, db, unchanged):
    author = api.user()["id"]
    other = api.user()["id"]
    own = bearer(issue_token(db, "example", "user", user_id=author))
    reader = bearer(issue_token(db, "example", "read"))
    with unchanged():
        app.post_json("/example/users?dry_run=true", {}, headers=own, status=403)
        dry(app, "/example/contributions", {"contributor_id": other}, headers=own, status=403)
        dry(app, "/example/contributions", {"contributor_id": author}, headers=reader, status=403)
        dry(app, "/example/contributions", {"contributor_id": author}, headers=own)
