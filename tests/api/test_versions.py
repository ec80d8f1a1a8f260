"""Versions of a contract's configuration: ``PATCH /{contract}``, ``PUT /{contract}``,
``GET /{contract}/versions``, service tokens, and the settings at start-up.

A parameter change applies to the actions committed after it and never to earlier ones:
their entries keep their version and values, the audit replays each action under its own
version, and another process applies the change from its next action on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from webtest import TestApp

from backfeed_api.auth.credentials import issue_token as issue
from backfeed_api.domain.audit import audit
from backfeed_api.domain.replay import what_if
from backfeed_api.models import ContractRow, ContractVersion, Evaluation, Explanation

from ..conftest import START, bearer, issue_token
from .conftest import Api, assert_error


def versions(app: TestApp, contract: str = "example") -> list[dict]:
    """Every version of the contract, oldest first."""
    return app.get(f"/{contract}/versions").json["items"]


def patch(app: TestApp, parameters: dict, contract: str = "example", status: int = 200, **kw):
    """``PATCH /{contract}``; the response."""
    return app.patch_json(f"/{contract}", {"parameters": parameters}, status=status, **kw)


def history(app: TestApp, user_id: int) -> list[dict]:
    """A user's ledger, oldest first."""
    return app.get(f"/example/users/{user_id}/history").json["items"][::-1]


def audited(app: TestApp, contract: str = "example") -> list:
    """The findings of ``backfeed check`` on the contract."""
    with Session(app.app.registry["db_engine"]) as session:
        return audit(session, app.app.registry["contracts"].get(contract))


def service_token(engine: sa.Engine) -> str:
    """A new service-wide admin token, as ``backfeed token create --service`` makes it."""
    with Session(engine) as session, session.begin():
        _, token = issue(session, None, "admin", START)
    return token


def test_a_parameter_change_applies_to_later_actions_only(app: TestApp, db: sa.Engine) -> None:
    api = Api(app)
    ann, bob, cyd = (api.user(tokens=100)["id"] for _ in range(3))
    first = api.contribution(cyd)
    api.vote(ann, first["id"], 1)
    before = {u: api.get(f"/example/users/{u}") for u in (ann, bob, cyd)}
    entries_before = {u: history(app, u) for u in (ann, bob, cyd)}
    changed = patch(app, {"article.fee": 3, "article.stake": 0.2}).json
    assert changed["version"] == 2
    assert changed["types"]["article"]["fee"] == 3
    # nothing held before the change moves, and no entry written before changes
    assert {u: api.get(f"/example/users/{u}") for u in (ann, bob, cyd)} == before
    assert {u: history(app, u) for u in (ann, bob, cyd)} == entries_before
    assert {e["config_version"] for u in (ann, bob, cyd) for e in entries_before[u]} == {1}
    api.vote(bob, first["id"], 1)
    second = api.contribution(cyd)
    fee = history(app, cyd)[-1]
    assert (fee["cause"], fee["tokens_delta"], fee["config_version"]) == (
        {"type": "contribution", "id": second["id"]},
        -3.0,
        2,
    )
    bob_vote = [e for e in history(app, bob) if e["cause"]["type"] == "evaluation"]
    assert bob_vote
    assert {e["config_version"] for e in bob_vote} == {2}
    assert audited(app) == []
    listed = versions(app)
    assert [v["version"] for v in listed] == [1, 2]
    assert [v["origin"] for v in listed] == ["ini", "http"]
    assert listed[0]["overrides"] == {}
    assert listed[1]["overrides"] == {"article.fee": 3, "article.stake": 0.2}
    assert listed[0]["parameters"]["types"]["article"]["fee"] == 1.0
    assert listed[1]["parameters"]["types"]["article"]["fee"] == 3
    assert listed[1]["after_action"] == 6  # 3 users, a contribution and a vote came before
    assert listed[1]["token_id"] is None  # the development token is no stored token
    assert app.get("/example").json["version"] == 2


def test_a_replay_follows_the_versions_and_overrides_each(app: TestApp, db: sa.Engine) -> None:
    api = Api(app)
    ann, bob, cyd = (api.user(tokens=100)["id"] for _ in range(3))
    work = api.contribution(cyd)
    api.vote(ann, work["id"], 1)
    patch(app, {"article.stake": 0.3, "article.fee": 4})
    api.vote(bob, work["id"], 1)
    api.contribution(ann)
    served = app.app.registry["contracts"].get("example")
    with Session(db) as session:
        same = what_if(session, served.row_id, served.rules, {})
        cheaper = what_if(session, served.row_id, served.rules, {"article.fee": 0})
    assert same.what_if_tokens == pytest.approx(same.actual_tokens)
    assert same.what_if_reputation == pytest.approx(same.actual_reputation)
    # both contributions free: cyd keeps the first fee (1), ann the second (4)
    change = dict(
        zip(cheaper.user_ids.tolist(), cheaper.what_if_tokens - cheaper.actual_tokens, strict=True)
    )
    assert change[cyd] == pytest.approx(1.0)
    assert change[ann] == pytest.approx(4.0)


def test_a_change_makes_an_event_and_changes_the_tag(app: TestApp) -> None:
    tag = app.get("/example").headers["ETag"]
    app.get("/example", headers={"If-None-Match": tag}, status=304)
    versions_tag = app.get("/example/versions").headers["ETag"]
    patch(app, {"beta": 0.25})
    assert app.get("/example", headers={"If-None-Match": tag}, status=200).headers["ETag"] != tag
    app.get("/example/versions", headers={"If-None-Match": versions_tag}, status=200)
    event = app.get("/example/events", params={"types": "contract.updated"}).json["items"][-1]
    assert event["type"] == "contract.updated"
    assert event["data"]["contract"] == "example"
    assert event["data"]["version"] == 2
    assert event["data"]["overrides"] == {"beta": 0.25}
    assert event["data"]["changes"] == []
    hook = {"url": "http://127.0.0.1:9/hook", "types": ["contract.updated"]}
    assert app.post_json("/example/webhooks", hook, status=201).json["types"] == hook["types"]


def test_a_change_keeps_the_other_overrides_and_null_restores_a_default(app: TestApp) -> None:
    assert app.get("/burning").json["parameters"]["alpha"] == 0.7
    patch(app, {"beta": 0.1}, "burning")
    parameters = app.get("/burning").json["parameters"]
    assert (parameters["alpha"], parameters["beta"]) == (0.7, 0.1)
    patch(app, {"alpha": None}, "burning")
    assert app.get("/burning").json["parameters"]["alpha"] == 0.0
    assert versions(app, "burning")[-1]["overrides"] == {
        "allow_self_evaluation": True,
        "beta": 0.1,
    }


def test_a_change_that_changes_nothing_makes_no_version(app: TestApp) -> None:
    patch(app, {"beta": 0.5})  # the default already
    patch(app, {})
    assert [v["version"] for v in versions(app)] == [1]
    assert app.get("/example/events", params={"types": "contract.updated"}).json["count"] == 0


@pytest.mark.parametrize(
    ("parameters", "code", "name"),
    [
        ({"nope": 1}, "invalid_parameter", "parameters.nope"),
        ({"poem.fee": 1}, "invalid_parameter", "parameters.poem.fee"),
        ({"beta": -1}, "invalid_parameter", "parameters.beta"),
        ({"max_vote_changes": 0.5}, "invalid_parameter", "parameters.max_vote_changes"),
        ({"beta": "0.4"}, "invalid", "parameters.beta"),
        ({"beta": [1]}, "invalid", "parameters.beta"),
        ({"be ta": 1}, "invalid", "parameters.be ta"),
        ({f"p{i}": 1 for i in range(101)}, "invalid", "parameters"),
    ],
)
def test_a_bad_change_is_refused_and_changes_nothing(
    app: TestApp, unchanged: Callable, parameters: dict, code: str, name: str
) -> None:
    Api(app).user()
    with unchanged():
        errors = assert_error(patch(app, parameters, status=400), 400, name=name)
    assert errors[0]["code"] == code


def test_a_change_needs_parameters(app: TestApp) -> None:
    assert_error(app.patch_json("/example", {}, status=400), 400, name="parameters")
    response = app.patch_json("/example", {"parameters": {}, "x": 1}, status=400)
    assert_error(response, 400, name="x")


def test_a_contract_admin_patches_its_own_contract_only(app: TestApp, db: sa.Engine) -> None:
    own = bearer(issue_token(db, "example", "admin"))
    patch(app, {"beta": 0.3}, headers=own)
    assert_error(patch(app, {"beta": 0.3}, "dmag", status=401, headers=own), 401)
    assert versions(app, "dmag")[-1]["version"] == 1
    made = versions(app)[-1]
    assert made["token_id"] is not None


def test_put_creates_a_contract_served_by_every_process(
    app: TestApp, make_app: Callable[..., TestApp], db: sa.Engine
) -> None:
    other = make_app()  # another process on the same database, started before the PUT
    token = bearer(service_token(db))
    body = {"kind": "example", "parameters": {"beta": 0.4, "article.fee": 2}}
    created = app.put_json("/guild", body, headers=token, status=201)
    assert created.headers["Location"].endswith("/guild")
    assert created.json["version"] == 1
    assert created.json["parameters"]["beta"] == 0.4
    assert other.get("/guild").json["types"]["article"]["fee"] == 2
    assert "guild" in [c["name"] for c in other.get("/").json["contracts"]]
    assert other.put_json("/guild", body, status=200).json == other.get("/guild").json
    user = Api(other).user("guild", tokens=10)
    Api(app).contribution(user["id"], "guild")
    assert app.get(f"/guild/users/{user['id']}").json["tokens"] == 8
    listed = versions(other, "guild")
    assert [(v["version"], v["origin"]) for v in listed] == [(1, "http")]
    assert listed[0]["token_id"] is not None
    assert audited(app, "guild") == []


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "name"),
    [
        ("/example", {"kind": "dmag"}, 409, "contract_exists", "kind"),
        (
            "/example",
            {"kind": "example", "parameters": {"beta": 0.1}},
            409,
            "contract_exists",
            "parameters",
        ),
        ("/new", {"kind": "no-such-kind"}, 400, "unknown_contract_kind", "kind"),
        (
            "/new",
            {"kind": "example", "parameters": {"nope": 1}},
            400,
            "invalid_parameter",
            "parameters.nope",
        ),
        (
            "/new",
            {"kind": "example", "parameters": {"beta": True}},
            400,
            "invalid_parameter",
            "parameters.beta",
        ),
        ("/new", {"parameters": {}}, 400, "missing", "kind"),
        ("/new", {"kind": "example", "extra": 1}, 400, "invalid", "extra"),
        ("/new", {"kind": "x" * 101}, 400, "invalid", "kind"),
        ("/" + "n" * 101, {"kind": "example"}, 400, "invalid", "contract"),
        ("/n%C3%A9", {"kind": "example"}, 400, "invalid", "contract"),
        ("/_x", {"kind": "example"}, 400, "invalid", "contract"),  # the settings refuse it
        ("/-", {"kind": "example"}, 400, "invalid", "contract"),
    ],
)
def test_a_bad_put_is_refused_and_changes_nothing(
    app: TestApp, unchanged: Callable, path: str, body: dict, status: int, code: str, name: str
) -> None:
    Api(app).user()
    with unchanged():
        errors = assert_error(app.put_json(path, body, status=status), status, name=name)
    assert code in {e["code"] for e in errors}


def test_the_same_put_of_an_unchanged_contract_is_a_200(app: TestApp) -> None:
    assert (
        app.put_json(
            "/burning",
            {"kind": "example", "parameters": {"alpha": 0.7, "allow_self_evaluation": True}},
            status=200,
        ).json["name"]
        == "burning"
    )


def test_put_and_patch_agree_on_what_the_same_configuration_is(app: TestApp) -> None:
    """Both ask whether the parameters are the same, however the overrides spell them: a
    default spelt out is no change to PATCH and the contract as it is to PUT."""
    shown = app.get("/burning").json["parameters"]
    same = {"alpha": 0.7, "allow_self_evaluation": True, "beta": shown["beta"]}
    other = {**same, "beta": shown["beta"] / 2}
    assert app.put_json("/burning", {"kind": "example", "parameters": same}).status_int == 200
    body = {"kind": "example", "parameters": other}
    assert_error(app.put_json("/burning", body, status=409), 409, name="parameters")
    assert patch(app, same, "burning").json["version"] == 1  # no version made
    assert patch(app, other, "burning").json["version"] == 2


def test_only_a_service_token_puts(app: TestApp, db: sa.Engine) -> None:
    body = {"kind": "example"}
    for role in ("admin", "read"):
        token = bearer(issue_token(db, "example", role))
        assert_error(app.put_json("/example", body, headers=token, status=403), 403)
        assert_error(app.put_json("/fresh", body, headers=token, status=403), 403)
    assert_error(app.put_json("/fresh", body, headers={"Authorization": ""}, status=401), 401)
    service = bearer(service_token(db))
    patch(app, {"beta": 0.2}, "dmag", headers=service)  # admin of every contract
    Api(app).user()
    app.post_json("/dmag/users", {}, headers=service, status=201)
    app.put_json("/fresh", body, headers=service, status=201)


def test_a_change_in_another_process_applies_to_its_next_action(
    app: TestApp, make_app: Callable[..., TestApp]
) -> None:
    other = make_app()
    api = Api(app)
    ann = api.user(tokens=100)["id"]
    api.contribution(ann)  # this process now holds the rules of version 1
    patch(other, {"article.fee": 7})
    served = app.app.registry["contracts"].get("example")
    assert served.rules.params.types["article"].fee == 1
    app.get("/example/contributions")  # a read renders with the version in force
    assert served.rules.params.types["article"].fee == 7
    api.contribution(ann)
    fees = [e["tokens_delta"] for e in history(app, ann) if e["cause"]["type"] == "contribution"]
    assert fees == [-1.0, -7.0]
    assert app.get("/example").json["types"]["article"]["fee"] == 7


def test_a_restart_keeps_a_change_made_over_http(make_app: Callable[..., TestApp]) -> None:
    first = make_app(**{"backfeed.contract.example.beta": "0.4"})
    patch(first, {"alpha": 0.3})
    again = make_app(**{"backfeed.contract.example.beta": "0.4"})
    assert [v["version"] for v in versions(again)] == [1, 2]
    assert again.get("/example").json["parameters"]["alpha"] == 0.3
    changed = make_app(**{"backfeed.contract.example.beta": "0.6"})
    listed = versions(changed)
    assert [(v["version"], v["origin"]) for v in listed] == [(1, "ini"), (2, "http"), (3, "ini")]
    assert listed[-1]["overrides"] == {"alpha": 0.3, "beta": 0.6}
    removed = make_app()
    assert versions(removed)[-1]["overrides"] == {"alpha": 0.3}
    assert [v["version"] for v in versions(make_app())] == [1, 2, 3, 4]
    events = removed.get("/example/events", params={"types": "contract.updated"}).json
    assert [e["data"]["version"] for e in events["items"]] == [2, 3, 4]


def test_the_versions_are_paged(app: TestApp) -> None:
    for value in (0.1, 0.2, 0.3):
        patch(app, {"beta": value})
    page = app.get("/example/versions", params={"limit": 2}).json
    assert [v["version"] for v in page["items"]] == [1, 2]
    assert page["_meta"]["total"] == 4
    assert "next" in page["_meta"]
    later = app.get("/example/versions", params={"since_id": 2}).json
    assert [v["version"] for v in later["items"]] == [3, 4]


def test_concurrent_changes_and_votes_lose_no_version(
    app: TestApp, db: sa.Engine, make_app: Callable[..., TestApp]
) -> None:
    """Changes from two processes racing votes: every change is a version of its own, and
    each vote ran under, and recorded, the version in force when it committed."""
    api = Api(app)
    users = [api.user(tokens=1000)["id"] for _ in range(6)]
    works = [api.contribution(u)["id"] for u in users[:3]]
    other = make_app()
    failures: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    def changes(client: TestApp, start: float) -> Callable[[], None]:
        return lambda: [patch(client, {"beta": start + i / 100}) for i in range(5)]

    def votes() -> None:
        for work in works:
            for voter in users[3:]:
                api.vote(voter, work, 1)

    threads = [
        threading.Thread(target=run, args=(job,))
        for job in (changes(app, 0.1), changes(other, 0.6), votes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert [v["version"] for v in versions(app)] == list(range(1, 12))
    with Session(db) as session:
        contract = session.scalars(sa.select(ContractRow).where(ContractRow.name == "example"))
        row_id = contract.one().id
        boundaries = session.execute(
            sa.select(ContractVersion.version, ContractVersion.seq)
            .where(ContractVersion.contract_id == row_id)
            .order_by(ContractVersion.version)
        ).all()
        recorded = session.execute(
            sa.select(Evaluation.seq, Explanation.config_version).join(
                Explanation,
                (Explanation.cause_type == "evaluation") & (Explanation.cause_id == Evaluation.id),
            )
        ).all()
    assert len(recorded) == 9
    for seq, version in recorded:
        assert version == max(v for v, after in boundaries if after < seq)
    assert audited(app) == []
