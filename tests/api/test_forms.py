"""Form-encoded bodies, as older clients send them, work like JSON bodies."""

from __future__ import annotations

import pytest

U, C, E = "/example/users", "/example/contributions", "/example/evaluations"


def test_form_bodies_create_like_json(app, api):
    user = app.post(U, {"reputation": "10", "tokens": "2.5"}, status=201)
    assert user.headers["Location"] == f"http://localhost{U}/{user.json['id']}"
    user = user.json
    assert (user["reputation"], user["tokens"]) == (10.0, 2.5)
    assert app.get(f"{U}/{user['id']}").json == user
    referred = app.post(U, {"referrer_id": str(user["id"])}, status=201).json
    assert referred["referrer"] == {"id": user["id"]}
    assert (referred["reputation"], referred["tokens"]) == (20.0, 50.0)
    assert app.post(U, {}, status=201).json["reputation"] == 20

    comment = app.post(C, {"contributor_id": str(user["id"]), "type": "comment"}, status=201).json
    assert comment["type"] == "comment"
    assert app.get(f"{U}/{user['id']}").json["tokens"] == pytest.approx(2.4, rel=1e-15)

    body = {"evaluator_id": str(referred["id"]), "contribution_id": str(comment["id"])}
    vote = app.post(E, {**body, "value": "0"}, status=201).json
    assert vote["value"] == 0
    assert vote["evaluator"]["id"] == referred["id"]
    assert vote["contribution"]["id"] == comment["id"]
    assert app.post(E, {**body, "value": "0.0"}, status=200).json["id"] == vote["id"]
    assert app.post(E, {**body, "value": "1"}, status=201).json["id"] != vote["id"]


def test_form_and_json_give_the_same_user(app, api):
    by_form = app.post(U, {"reputation": "12.5", "tokens": "3e0"}, status=201).json
    by_json = api.user(reputation=12.5, tokens=3)
    assert set(by_form) == set(by_json)
    for key in ("reputation", "tokens", "created_at"):
        assert by_form[key] == by_json[key]


def test_form_vote_true_on_whitepaper1(app, api):
    voter = api.user("whitepaper1")["id"]
    author = api.user("whitepaper1")["id"]
    contribution = api.contribution(author, "whitepaper1")["id"]
    body = {"evaluator_id": str(voter), "contribution_id": str(contribution), "value": "true"}
    vote = app.post("/whitepaper1/evaluations", body, status=201).json
    assert vote["value"] == 1
    # JSON true, JSON 1 and the form's "1" are the same vote: repeats, not re-votes
    for value in (True, 1):
        assert api.vote(voter, contribution, value, "whitepaper1", status=200)["id"] == vote["id"]
    repeat = app.post("/whitepaper1/evaluations", {**body, "value": "1"}, status=200).json
    assert repeat["id"] == vote["id"]
    revote = app.post("/whitepaper1/evaluations", {**body, "value": "false"}, status=201).json
    assert revote["value"] == 0
