"""schemathesis against ``/__api__``: generated requests, valid and invalid, for every
operation, with and without a token, on SQLite and PostgreSQL.

No response may be a server error, and every response must be one the document announces:
a documented status, the documented media type and headers, a body that validates against
the documented schema. Invalid requests must be refused (4xx).

The requests go straight to the WSGI application (schemathesis's WSGI transport). Each
operation gets a bounded number of examples per mode (:data:`EXAMPLES`), derandomized so
that a run is reproducible, without a deadline (the machine is shared).

The "admin" runs send ``Authorization: Bearer <admin_token>``; the fixture ``admin_token``
in ``tests/api/conftest.py`` is the one place that connects them to the real token. The
routes of a user's login tokens, which refuse every other token, also get "user" runs, with
a ``user`` token of a user who has logged in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from cornice import Service
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backfeed_api.api.responses import routes, services
from backfeed_api.worker import context_for
from backfeed_api.worker.replays import ReplayRunner

from ..conftest import issue_token
from .conftest import Served, bearer

EXAMPLES = 25
SAM_PASSWORD = "a long secret of his"
HOOK_URL = "http://127.0.0.1:9/hook"  # never called: no worker runs here
METHOD_ORDER = {"POST": 0, "PATCH": 0, "DELETE": 1, "GET": 2}


def fuzzed_operations(service_list: list[Service]) -> list[tuple[str, str]]:
    """(method, path) of every route of the Cornice services but ``/__api__``: writes
    first, so that the reads then meet what the generated writes stored."""
    found = {
        (method, service.path)
        for service, method, _args in routes(service_list)
        if service.path != "/__api__"
    }
    return sorted(found, key=lambda op: (METHOD_ORDER.get(op[0], 1), op[1]))


OPERATIONS = fuzzed_operations(services())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def known(served: Served) -> dict[str, list[int]]:
    """A few objects of the ``example`` contract, by kind, for requests to find."""
    api = served.api
    ann = api.user(reputation=10)["id"]
    bob = api.user(referrer_id=ann)["id"]
    article = api.contribution(ann, type="article")["id"]
    comment = api.contribution(bob, type="comment")["id"]
    votes = [api.vote(bob, article, 1)["id"], api.vote(ann, comment, 0)["id"]]
    api.contribution(api.user("dmag")["id"], "dmag")
    sam = api.user(username="sam", password=SAM_PASSWORD)["id"]
    login = {"username": "sam", "password": SAM_PASSWORD}
    logins = [served.app.post_json("/example/auth", login).json["token_id"] for _ in range(3)]
    hook = {"url": HOOK_URL}
    hooks = [api.app.post_json("/example/webhooks", hook).json["id"] for _ in range(3)]
    asked = {"parameters": {"article.stake": 0.05}}
    replays = [api.app.post_json("/example/replays", asked, status=202).json["id"]]
    registry = served.app.app.registry
    ReplayRunner(context_for(registry, registry.settings))()  # one done, with its outputs
    replays.append(api.app.post_json("/example/replays", asked, status=202).json["id"])
    return {
        "users": [ann, bob, sam],
        "contributions": [article, comment],
        "evaluations": votes,
        "auth": logins,  # /{contract}/auth/tokens/{id}: known by its resource
        "webhooks": hooks,
        "replays": replays,
        "ledger": [item["id"] for item in api.items(f"/example/users/{bob}/history")],
    }


@pytest.fixture(scope="module")
def user_token(served: Served, known: dict[str, list[int]]) -> str:
    """A ``user`` token of Sam, who has logged in: it lists and revokes Sam's logins."""
    return issue_token(served.db, "example", "user", user_id=known["users"][-1])


@pytest.fixture(scope="module")
def api_schema(served: Served, known: dict[str, list[int]]):
    """The document of the application under test, loaded through its WSGI interface."""
    return schemathesis.openapi.from_wsgi("/__api__", served.app.app)


REFERENCES = {
    "referrer_id": "users",
    "contributor_id": "users",
    "evaluator_id": "users",
    "contribution_id": "contributions",
}


def steer(case, data: st.DataObject, known: dict[str, list[int]]) -> None:
    """Point a valid request, half of the time, at objects that exist, so that the
    successful answers are exercised too: random ids would almost never name one."""
    if not data.draw(st.booleans(), label="steer"):
        return
    if "contract" in (case.path_parameters or {}):
        names = ["example", "fuzzed", "fuzzed-too"] if case.method == "PUT" else ["example"]
        case.path_parameters["contract"] = data.draw(st.sampled_from(names), label="contract")
    if "id" in (case.path_parameters or {}):
        kind = case.operation.path.replace("/dashboard", "", 1).split("/")[2]
        case.path_parameters["id"] = data.draw(st.sampled_from(known[kind]), label="id")
    if isinstance(case.body, dict):
        items = case.body.get("evaluations")
        for body in items if isinstance(items, list) else [case.body]:
            steer_body(body, data, known)
    if isinstance(case.query, dict) and "user_id" in case.query:
        case.query["user_id"] = data.draw(st.sampled_from(known["users"]), label="user_id")


def steer_body(body: dict, data: st.DataObject, known: dict[str, list[int]]) -> None:
    """Point the references of one body (or one item of a batch) at objects that exist."""
    if not isinstance(body, dict):
        return
    for name, kind in REFERENCES.items():
        if name in body:
            body[name] = data.draw(st.sampled_from(known[kind]), label=name)
    if "value" in body:
        body["value"] = data.draw(st.sampled_from([0, 1]), label="value")
    if "type" in body:
        body["type"] = data.draw(st.sampled_from(["article", "comment"]), label="type")
    if "kind" in body:  # a contract to create (PUT): 201, then 200 or 409
        body["kind"] = "example"
    if isinstance(body.get("parameters"), dict):  # a contract's parameters (PUT, PATCH)
        beta = data.draw(st.sampled_from([0.25, 0.5, 0.75]), label="beta")
        body["parameters"] = {"beta": beta}


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Counter]:
    """Counts the cases run; their number is printed at the end of the module."""
    counts: Counter = Counter()
    yield counts
    if not counts:
        return
    summary = ", ".join(f"{key}: {n}" for key, n in sorted(counts.items()))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nschemathesis cases run: {sum(counts.values())} ({summary})")


# Invalid requests for every operation that has a parameter or a body to make invalid
# (``GET /`` has none: schemathesis cannot generate a negative case for it).
RUNS = [
    (method, path, mode, who)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if path != "/" or mode is GenerationMode.POSITIVE
    for who in ("anonymous", "admin", "user")
    if who != "user" or path.startswith("/{contract}/auth/tokens")
]


def test_every_operation_of_the_document_is_fuzzed(served: Served) -> None:
    document = served.app.get("/__api__").json
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert set(OPERATIONS) == documented
    assert len(OPERATIONS) == len(documented) >= 16


def test_a_new_route_is_fuzzed(throwaway: Service) -> None:
    """The operations are read from the Cornice services: a new route is among them."""
    assert ("GET", "/{contract}/throwaway") in fuzzed_operations(services())


@pytest.mark.parametrize(("method", "path", "mode", "who"), RUNS)
def test_responses_are_documented(
    method: str,
    path: str,
    mode: GenerationMode,
    who: str,
    api_schema,
    known: dict[str, list[int]],
    admin_token: str,
    user_token: str,
    tally: Counter,
) -> None:
    operation = api_schema[path][method]
    headers = {"anonymous": {}, "admin": bearer(admin_token), "user": bearer(user_token)}[who]

    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            steer(case, data, known)
            if case.query and "wait" in case.query:  # long-polls have tests of their own
                case.query["wait"] = 0
        response = case.call(headers=headers)
        checks = CHECKS
        if response.status_code in (204, 304):
            # No body, so no media type: Swagger 2.0 gives one ``produces`` list for all of an
            # operation's answers and cannot say so for the 204 (or a 304) alone.
            assert response.content == b""
            checks = [check for check in CHECKS if check is not content_type_conformance]
        case.validate_response(response, checks=checks, headers=headers)
        tally[f"{mode.value} {who}"] += 1
        tally[f"{method} {path} {response.status_code}"] += 1

    check()
