"""Every error path of the API (``docs/api.rst``): the exact status, Cornice's JSON error
shape, no HTML, no leak, and a database left exactly as it was."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest
from webtest import TestApp, TestResponse

from .conftest import Served, assert_error


@dataclass(frozen=True)
class World:
    """Ids of a small populated database: two contracts, users, contributions, votes."""

    ann: int  # example, 10 reputation
    bob: int  # example, referred by ann
    poor: int  # example, 0.05 tokens: cannot pay for anything
    article: int  # example, by ann
    vote: int  # example, bob's 1 on the article
    dmag_user: int
    dmag_article: int
    dmag_vote: int

    def ids(self) -> dict[str, int]:
        """Name → id, to format paths and bodies."""
        return asdict(self)


@pytest.fixture(scope="module")
def world(served: Served) -> World:
    """Populate both contracts, once per database."""
    api = served.api
    ann = api.user(reputation=10)["id"]
    bob = api.user(referrer_id=ann)["id"]
    poor = api.user(tokens=0.05)["id"]
    article = api.contribution(ann, type="article")["id"]
    vote = api.vote(bob, article, 1)["id"]
    dmag_user = api.user("dmag")["id"]
    dmag_article = api.contribution(api.user("dmag")["id"], "dmag")["id"]
    dmag_vote = api.vote(dmag_user, dmag_article, 1, "dmag")["id"]
    return World(ann, bob, poor, article, vote, dmag_user, dmag_article, dmag_vote)


def resolve(body: Any, ids: dict[str, int]) -> Any:
    """Put the world's ids in a JSON body: the string ``"{ann}"`` becomes ann's id."""
    if isinstance(body, dict):
        return {key: resolve(value, ids) for key, value in body.items()}
    if isinstance(body, str) and body.startswith("{") and body[1:-1] in ids:
        return ids[body[1:-1]]
    return body


@dataclass(frozen=True)
class Case:
    """One bad request and the error it must get.

    ``path``, ``raw`` text and ``form`` values are formatted with the world's ids (``{ann}``);
    in ``json``, the string ``"{ann}"`` becomes ann's integer id. ``json`` is sent as a JSON
    body, ``raw`` as a body of ``content_type``, ``form`` form-encoded.
    """

    method: str
    path: str
    status: int
    location: str | None = None
    name: str | None = None
    json: Any = None
    raw: str | bytes | None = None
    content_type: str = "application/json"
    form: list[tuple[str, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, app: TestApp, world: World) -> TestResponse:
        """Make the request; any status is accepted here."""
        ids = world.ids()
        path = self.path.format(**ids)
        if self.form is not None:
            pairs = [(key, value.format(**ids)) for key, value in self.form]
            return app.post(path, pairs, headers=self.headers, expect_errors=True)
        options: dict[str, Any] = {}
        if self.json is not None:
            options["body"] = json.dumps(resolve(self.json, ids)).encode()
            options["content_type"] = "application/json"
        elif self.raw is not None:
            text = self.raw.format(**ids) if isinstance(self.raw, str) else self.raw
            options["body"] = text.encode() if isinstance(text, str) else text
            options["content_type"] = self.content_type
        return app.request(
            path, method=self.method, headers=self.headers, expect_errors=True, **options
        )


def post(path: str, body: Any, status: int = 400, name: str | None = None) -> Case:
    """A JSON POST expected to fail validation on the body (``name``: the field at fault)."""
    return Case("POST", path, status, "body" if status == 400 else "url", name, json=body)


REMOVED = object()


def vote(name: str | None = None, **changes: Any) -> Case:
    """Ann's vote 1 on her own article, with some fields changed (``REMOVED`` drops one)."""
    body = {"evaluator_id": "{ann}", "contribution_id": "{article}", "value": 1, **changes}
    return post(E, {key: value for key, value in body.items() if value is not REMOVED}, name=name)


def raw(
    path: str, text: str | bytes, status: int = 400, content_type: str = "application/json"
) -> Case:
    """A POST of a body given as text or bytes."""
    location = "body" if status == 400 else "header"
    return Case("POST", path, status, location, raw=text, content_type=content_type)


def form(path: str, pairs: list[tuple[str, str]], name: str | None = None) -> Case:
    """A form-encoded POST expected to fail validation."""
    return Case("POST", path, 400, "body", name, form=pairs)


def query(path: str, name: str | None = None) -> Case:
    """A GET expected to fail validation on its query string."""
    return Case("GET", path, 400, "querystring", name)


def get(path: str, **headers: str) -> Case:
    """A GET of something that is not there."""
    return Case("GET", path, 404, "url", headers=headers)


def method(verb: str, path: str) -> Case:
    """A method the route does not have."""
    return Case(verb, path, 405)


U, C, E = "/example/users", "/example/contributions", "/example/evaluations"
VOTE_TEXT = '{{"evaluator_id": {ann}, "contribution_id": {article}, "value": %s}}'

CASES: dict[str, Case] = {
    # -- unknown query parameters, bad paging and filters ---------------------------------------
    "users-unknown-parameter": query(f"{U}?foo=1"),
    "user-unknown-parameter": query(f"{U}/{{ann}}?foo=1"),
    "history-unknown-parameter": query(f"{U}/{{ann}}/history?order_by=time"),
    "contributions-unknown-parameter": query(f"{C}?evaluator_id=1"),
    "contribution-unknown-parameter": query(f"{C}/{{article}}?verbose=1"),
    "evaluations-unknown-parameter": query(f"{E}?order_by=time"),
    "evaluation-unknown-parameter": query(f"{E}/{{vote}}?x=1"),
    "service-unknown-parameter": query("/?x=1"),
    "contract-unknown-parameter": query("/example?x=1"),
    "limit-above-cap": query(f"{U}?limit=1001", "limit"),
    "limit-above-cap-contributions": query(f"{C}?limit=1001", "limit"),
    "limit-above-cap-evaluations": query(f"{E}?limit=1001", "limit"),
    "limit-above-cap-history": query(f"{U}/{{ann}}/history?limit=1001", "limit"),
    "limit-zero": query(f"{U}?limit=0", "limit"),
    "limit-negative": query(f"{C}?limit=-5", "limit"),
    "limit-not-a-number": query(f"{U}?limit=ten", "limit"),
    "limit-fraction": query(f"{C}?limit=1.5", "limit"),
    "limit-empty": query(f"{C}?limit=", "limit"),
    "limit-repeated": query(f"{U}?limit=1&limit=2", "limit"),
    "start-negative": query(f"{E}?start=-1", "start"),
    "start-huge": query(f"{E}?start=99999999999999999999", "start"),
    "users-order-unknown": query(f"{U}?order_by=score", "order_by"),
    "contributions-order-unknown": query(f"{C}?order_by=reputation", "order_by"),
    "contributor-filter-not-an-id": query(f"{C}?contributor_id=ann", "contributor_id"),
    "contributor-filter-fraction": query(f"{C}?contributor_id=1.7", "contributor_id"),
    "evaluator-filter-negative": query(f"{E}?evaluator_id=-1", "evaluator_id"),
    "contribution-filter-huge": query(f"{E}?contribution_id=99999999999999999999"),
    "value-filter-not-a-number": query(f"{E}?value=up", "value"),
    "value-filter-nan": query(f"{E}?value=nan", "value"),
    "value-filter-infinity": query(f"{E}?value=inf", "value"),
    "superseded-not-a-boolean": query(f"{E}?include_superseded=maybe", "include_superseded"),
    # -- users: fields and types ----------------------------------------------------------------
    "user-unknown-field": post(U, {"name": "ann"}),
    "user-unknown-field-among-good": post(U, {"reputation": 1, "karma": 2}),
    "reputation-string": post(U, {"reputation": "10"}, name="reputation"),
    "reputation-word": post(U, {"reputation": "ten"}, name="reputation"),
    "reputation-true": post(U, {"reputation": True}, name="reputation"),
    "reputation-list": post(U, {"reputation": [1]}, name="reputation"),
    "reputation-object": post(U, {"reputation": {"value": 1}}, name="reputation"),
    "reputation-negative": post(U, {"reputation": -1}, name="reputation"),
    "reputation-negative-tiny": post(U, {"reputation": -1e-300}, name="reputation"),
    "tokens-negative": post(U, {"tokens": -0.5}, name="tokens"),
    "tokens-huge-integer": post(U, {"tokens": 10**400}, name="tokens"),
    "referrer-fraction": post(U, {"referrer_id": 1.7}, name="referrer_id"),
    "referrer-integral-float": post(U, {"referrer_id": 1.0}, name="referrer_id"),
    "referrer-true": post(U, {"referrer_id": True}, name="referrer_id"),
    "referrer-string": post(U, {"referrer_id": "1"}, name="referrer_id"),
    "referrer-negative": post(U, {"referrer_id": -1}, name="referrer_id"),
    "referrer-huge": post(U, {"referrer_id": 2**64}, name="referrer_id"),
    "referrer-unknown": post(U, {"referrer_id": 10**6}, name="referrer_id"),
    "referrer-zero": post(U, {"referrer_id": 0}, name="referrer_id"),
    "referrer-of-another-contract": post(U, {"referrer_id": "{dmag_user}"}, name="referrer_id"),
    # -- JSON that is not an object of finite numbers -------------------------------------------
    "reputation-nan": raw(U, '{{"reputation": NaN}}'),
    "reputation-infinity": raw(U, '{{"reputation": Infinity}}'),
    "tokens-minus-infinity": raw(U, '{{"tokens": -Infinity}}'),
    "reputation-1e400": raw(U, '{{"reputation": 1e400}}'),
    "referrer-1e400": raw(U, '{{"referrer_id": 1e400}}'),
    "malformed-json": raw(U, '{{"reputation": 1,}}'),
    "truncated-json": raw(U, '{{"reputation": '),
    "json-array": raw(U, '[{{"reputation": 1}}]'),
    "json-empty-array": raw(C, "[]"),
    "json-string": raw(U, '"reputation"'),
    "json-number": raw(U, "1"),
    "json-null": raw(U, "null"),
    "json-repeated-key": raw(U, '{{"reputation": -1, "reputation": 5}}'),
    "json-repeated-vote-key": raw(
        E, '{{"evaluator_id": {ann}, "contribution_id": {article}, "value": 1, "value": 0}}'
    ),
    "json-not-utf8": raw(C, b'{"contributor_id": 1, "type": "\xff"}'),
    # -- contributions --------------------------------------------------------------------------
    "contribution-empty-object": raw(C, "{{}}"),
    "contribution-unknown-field": post(C, {"contributor_id": "{ann}", "title": "x"}),
    "contributor-string": post(C, {"contributor_id": "1"}, name="contributor_id"),
    "contributor-null": post(C, {"contributor_id": None}, name="contributor_id"),
    "contributor-unknown": post(C, {"contributor_id": 10**6}, name="contributor_id"),
    "contributor-zero": post(C, {"contributor_id": 0}, name="contributor_id"),
    "contributor-of-another-contract": post(
        C, {"contributor_id": "{dmag_user}"}, name="contributor_id"
    ),
    "type-unknown": post(C, {"contributor_id": "{ann}", "type": "video"}, name="type"),
    "type-of-another-contract": post(
        C, {"contributor_id": "{ann}", "type": "contribution"}, name="type"
    ),
    "type-number": post(C, {"contributor_id": "{ann}", "type": 1}, name="type"),
    "type-empty": post(C, {"contributor_id": "{ann}", "type": ""}, name="type"),
    "too-few-tokens": post(C, {"contributor_id": "{poor}", "type": "comment"}),
    # -- evaluations ----------------------------------------------------------------------------
    "value-missing": vote("value", value=REMOVED),
    "evaluator-missing": vote("evaluator_id", evaluator_id=REMOVED),
    "contribution-missing": vote("contribution_id", contribution_id=REMOVED),
    "value-outside-set": vote("value", value=2),
    "value-negative": vote("value", value=-1),
    "value-half": vote("value", value=0.5),
    "value-string": vote("value", value="1"),
    "value-word": vote("value", value="true"),
    "value-null": vote("value", value=None),
    "value-list": vote("value", value=[1]),
    "value-huge-integer": vote("value", value=10**400),
    "value-nan": raw(E, VOTE_TEXT % "NaN"),
    "value-infinity": raw(E, VOTE_TEXT % "Infinity"),
    "value-1e400": raw(E, VOTE_TEXT % "1e400"),
    "evaluation-unknown-field": vote(weight=2),
    "evaluator-fraction": vote("evaluator_id", evaluator_id=1.7),
    "evaluator-true": vote("evaluator_id", evaluator_id=True),
    "evaluator-string": vote("evaluator_id", evaluator_id="1"),
    "evaluator-unknown": vote("evaluator_id", evaluator_id=10**6),
    "evaluator-zero": vote("evaluator_id", evaluator_id=0),
    "evaluator-of-another-contract": vote("evaluator_id", evaluator_id="{dmag_user}"),
    "contribution-true": vote("contribution_id", contribution_id=True),
    "contribution-unknown": vote("contribution_id", contribution_id=10**6),
    "contribution-zero": vote("contribution_id", contribution_id=0),
    "contribution-of-another-contract": vote("contribution_id", contribution_id="{dmag_article}"),
    # -- form bodies ----------------------------------------------------------------------------
    "form-duplicated-key": form(U, [("reputation", "1"), ("reputation", "1")], "reputation"),
    "form-duplicated-id": form(C, [("contributor_id", "{ann}"), ("contributor_id", "{ann}")]),
    "form-duplicated-value": form(
        E,
        [
            ("evaluator_id", "{ann}"),
            ("contribution_id", "{article}"),
            ("value", "1"),
            ("value", "0"),
        ],
        "value",
    ),
    "form-unknown-field": form(U, [("name", "ann")]),
    "form-not-a-number": form(U, [("tokens", "lots")], "tokens"),
    "form-nan": form(U, [("reputation", "nan")], "reputation"),
    "form-negative": form(U, [("reputation", "-2")], "reputation"),
    "form-fractional-id": form(U, [("referrer_id", "1.5")], "referrer_id"),
    "form-value-outside-set": form(
        E, [("evaluator_id", "{ann}"), ("contribution_id", "{article}"), ("value", "2")], "value"
    ),
    # -- media types ----------------------------------------------------------------------------
    "text-plain-body": raw(U, "reputation=1", 415, "text/plain"),
    "xml-body": raw(C, "<contribution/>", 415, "application/xml"),
    # -- unknown contracts and ids --------------------------------------------------------------
    "unknown-contract": get("/nope"),
    "unknown-contract-users": get("/nope/users"),
    "unknown-contract-user": get("/nope/users/{ann}"),
    "unknown-contract-post": post("/nope/users", {"reputation": 1}, status=404),
    "unknown-contract-wanting-html": get("/nope", Accept="text/html"),
    "unknown-route-wanting-html": get("/nope/a/b/c", Accept="text/html,*/*;q=0.8"),
    "user-non-numeric": get(f"{U}/ann"),
    "user-zero": get(f"{U}/0"),
    "user-negative": get(f"{U}/-1"),
    "user-fraction": get(f"{U}/1.0"),
    "user-huge": get(f"{U}/99999999999999999999999"),
    "user-just-above-bigint": get(f"{U}/9223372036854775808"),
    "user-largest-bigint": get(f"{U}/9223372036854775807"),
    "user-missing": get(f"{U}/1000000"),
    "history-zero": get(f"{U}/0/history"),
    "history-non-numeric": get(f"{U}/x/history"),
    "history-missing": get(f"{U}/1000000/history"),
    "contribution-zero-in-url": get(f"{C}/0"),
    "contribution-non-numeric": get(f"{C}/1e3"),
    "contribution-huge": get(f"{C}/18446744073709551616"),
    "evaluation-zero-in-url": get(f"{E}/0"),
    "evaluation-non-numeric": get(f"{E}/one"),
    "evaluation-huge": get(f"{E}/9223372036854775808"),
    # -- ids of another contract ----------------------------------------------------------------
    "dmag-user-under-example": get(f"{U}/{{dmag_user}}"),
    "dmag-history-under-example": get(f"{U}/{{dmag_user}}/history"),
    "dmag-contribution-under-example": get(f"{C}/{{dmag_article}}"),
    "dmag-evaluation-under-example": get(f"{E}/{{dmag_vote}}"),
    "example-user-under-dmag": get("/dmag/users/{ann}"),
    "example-contribution-under-dmag": get("/dmag/contributions/{article}"),
    "example-evaluation-under-dmag": get("/dmag/evaluations/{vote}"),
    # -- methods and routes ---------------------------------------------------------------------
    "delete-users": method("DELETE", U),
    "put-user": method("PUT", f"{U}/{{ann}}"),
    "patch-contributions": method("PATCH", C),
    "post-one-user": method("POST", f"{U}/{{ann}}"),
    "post-history": method("POST", f"{U}/{{ann}}/history"),
    "delete-evaluation": method("DELETE", f"{E}/{{vote}}"),
    "post-service": method("POST", "/"),
    "post-contract": method("POST", "/example"),
    "unknown-route": get("/example/users/{ann}/friends"),
    "unknown-collection": get("/example/things"),
    "deep-unknown-route": get("/a/b/c/d/e"),
}


@pytest.mark.parametrize("case_id", list(CASES))
def test_error(case_id: str, served: Served, world: World) -> None:
    case = CASES[case_id]
    with served.unchanged():
        response = case.send(served.app, world)
    assert_error(response, case.status, location=case.location, name=case.name)


@pytest.mark.parametrize("path", [U, f"{U}/1", f"{U}/1/history", C, f"{C}/1", E, "/"])
def test_wrong_method_says_which_are_allowed(path: str, served: Served, world: World) -> None:
    with served.unchanged():
        response = served.app.delete(path, status=405)
    assert_error(response, 405)
    allowed = {verb.strip() for verb in response.headers["Allow"].split(",")}
    assert "GET" in allowed
    assert "DELETE" not in allowed


SECRET = "hunter2-not-for-your-eyes"
SENDS = {
    "json": ("body", lambda app: app.post_json(U, {"passwd": SECRET}, expect_errors=True)),
    "form": (
        "body",
        lambda app: app.post(U, [("reputation", "1"), ("passwd", SECRET)], expect_errors=True),
    ),
    "query": ("querystring", lambda app: app.get(U, {"passwd": SECRET}, expect_errors=True)),
    "login": (
        "body",
        lambda app: app.post_json(
            "/example/auth",
            {"username": "ann", "password": "x", "passwd": SECRET},
            expect_errors=True,
        ),
    ),
}


@pytest.mark.parametrize("send", list(SENDS))
def test_an_unknown_key_is_named_never_its_value(send: str, served: Served, world: World) -> None:
    """A password sent under a wrong name must not come back in the error."""
    location, request = SENDS[send]
    with served.unchanged():
        response = request(served.app)
    assert_error(response, 400, location=location, name="passwd")
    assert SECRET not in response.text
