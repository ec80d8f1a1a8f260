"""``GET /__api__``: a valid Swagger 2.0 document of every route, with strict body schemas."""

from __future__ import annotations

import jsonschema_rs
import pytest
from cornice import Service
from schemathesis.specs.openapi import definitions

from backfeed_api.api.openapi.responses import (
    UndeclaredResponses,
    document_responses,
    undeclared,
)
from backfeed_api.api.responses import routes, services

from .conftest import Served


def documented_routes(service_list: list[Service]) -> dict[str, set[str]]:
    """The operations (path → methods) the document must have: every route of the Cornice
    services but ``/__api__`` itself."""
    found: dict[str, set[str]] = {}
    for service, method, _args in routes(service_list):
        if service.path != "/__api__":
            found.setdefault(service.path, set()).add(method.lower())
    return found


ROUTES = documented_routes(services())
BODIES = {
    "/{contract}/users": (
        {"reputation", "tokens", "referrer_id", "username", "password"},
        set(),
    ),
    "/{contract}/contributions": ({"contributor_id", "type"}, {"contributor_id"}),
    "/{contract}/evaluations": (
        {"evaluator_id", "contribution_id", "value"},
        {"evaluator_id", "contribution_id", "value"},
    ),
    "/{contract}/auth": ({"username", "password"}, {"username", "password"}),
}
METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture(scope="module")
def document(served: Served) -> dict:
    response = served.app.get("/__api__", status=200)
    assert response.content_type == "application/json"
    return response.json


def operations(document: dict):
    """(path, method, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def body_schema(document: dict, path: str) -> dict:
    """The schema of the body parameter of ``POST path``, references followed."""
    [body] = [p for p in document["paths"][path]["post"]["parameters"] if p["in"] == "body"]
    schema = body["schema"]
    if "$ref" in schema:
        schema = document["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_is_a_valid_swagger_2_document(document):
    validator = jsonschema_rs.Draft4Validator(definitions.SWAGGER_20)
    errors = [error.message for error in validator.iter_errors(document)]
    assert errors == []
    assert document["swagger"] == "2.0"
    assert document["info"]["title"] == "backfeed-api"
    assert document["info"]["version"] == "0.1.0"


def test_lists_every_route_and_method(document):
    documented = {
        path: {m for m in item if m in METHODS} for path, item in document["paths"].items()
    }
    assert documented == ROUTES


def test_every_view_declares_its_responses() -> None:
    assert undeclared(routes(services())) == []
    assert len(ROUTES) >= 12


def test_a_route_without_declared_responses_fails(throwaway: Service) -> None:
    """A new route whose view declares no ``response_schemas`` (nor permission) cannot be
    documented: the document of every registered service is refused, naming the route."""
    assert "/{contract}/throwaway" in documented_routes(services())
    assert undeclared(routes(services())) == ["GET /{contract}/throwaway"]
    document = {"paths": {"/{contract}/throwaway": {"get": {"responses": {}}}}}
    with pytest.raises(UndeclaredResponses, match="throwaway"):
        document_responses(document, routes([throwaway]))


def test_documents_every_route_the_application_serves(served, document):
    introspector = served.app.app.registry.introspector
    routes = introspector.get_category("routes")
    patterns = {"/" + entry["introspectable"]["pattern"].lstrip("/") for entry in routes}
    # the dashboard's static files are not an operation of the API
    assert patterns - {"/__api__", "/_dashboard/*subpath"} == set(ROUTES)


@pytest.mark.parametrize("path", list(BODIES))
def test_body_schemas_refuse_additional_properties(document, path):
    schema = body_schema(document, path)
    properties, required = BODIES[path]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == properties
    assert set(schema.get("required", [])) == required
    operation = document["paths"][path]["post"]
    assert set(operation["consumes"]) == {"application/json", "application/x-www-form-urlencoded"}


def test_body_field_types(document):
    users = body_schema(document, "/{contract}/users")["properties"]
    assert users["reputation"]["type"] == users["tokens"]["type"] == "number"
    assert users["reputation"]["minimum"] == 0
    assert users["referrer_id"]["type"] == "integer"
    contributions = body_schema(document, "/{contract}/contributions")["properties"]
    assert contributions["contributor_id"]["type"] == "integer"
    assert contributions["type"]["type"] == "string"
    evaluations = body_schema(document, "/{contract}/evaluations")["properties"]
    assert evaluations["value"]["type"] == "number"
    assert evaluations["evaluator_id"]["type"] == evaluations["contribution_id"]["type"]


def test_reads_take_no_body(document):
    for path, method, operation in operations(document):
        if method == "get":
            assert all(p["in"] != "body" for p in operation.get("parameters", [])), path


def test_list_query_parameters(document):
    def query(path: str) -> dict[str, dict]:
        parameters = document["paths"][path]["get"].get("parameters", [])
        return {p["name"]: p for p in parameters if p["in"] == "query"}

    users = query("/{contract}/users")
    assert set(users) == {"limit", "start", "since_id", "max_id", "order_by"}
    assert users["limit"]["maximum"] == 1000
    assert users["limit"]["minimum"] == 1
    assert users["limit"]["default"] == 100
    assert set(users["order_by"]["enum"]) == {
        "reputation",
        "-reputation",
        "tokens",
        "-tokens",
        "time",
        "-time",
    }
    contributions = query("/{contract}/contributions")
    assert set(contributions) == {
        "limit",
        "start",
        "since_id",
        "max_id",
        "order_by",
        "contributor_id",
        "type",
    }
    assert set(contributions["order_by"]["enum"]) == {"score", "-score", "time", "-time"}
    assert contributions["order_by"]["default"] == "-score"
    evaluations = query("/{contract}/evaluations")
    assert set(evaluations) == {
        "limit",
        "start",
        "since_id",
        "max_id",
        "contribution_id",
        "evaluator_id",
        "value",
        "include_superseded",
    }
    assert evaluations["include_superseded"]["type"] == "boolean"
    paging = {"limit", "start", "since_id", "max_id"}
    assert set(query("/{contract}/users/{id}/history")) == paging
    assert set(query("/{contract}/auth/tokens")) == paging
    for path in ("/", "/{contract}", "/{contract}/users/{id}"):
        assert query(path) == {}


def test_declares_the_bearer_token(document):
    bearer = document["securityDefinitions"]["bearer"]
    assert bearer == {**bearer, "type": "apiKey", "in": "header", "name": "Authorization"}


NEEDS_TOKEN = {
    ("/{contract}", "put"),
    ("/{contract}", "patch"),
    ("/{contract}/users", "post"),
    ("/{contract}/contributions", "post"),
    ("/{contract}/evaluations", "post"),
    ("/{contract}/evaluations/batch", "post"),
    ("/{contract}/auth", "delete"),
    ("/{contract}/auth/tokens", "get"),
    ("/{contract}/auth/tokens/{id}", "delete"),
    ("/{contract}/webhooks", "get"),
    ("/{contract}/webhooks", "post"),
    ("/{contract}/webhooks/{id}", "get"),
    ("/{contract}/webhooks/{id}", "patch"),
    ("/{contract}/webhooks/{id}", "delete"),
    ("/{contract}/webhooks/{id}/deliveries", "get"),
    ("/{contract}/replays", "get"),
    ("/{contract}/replays", "post"),
    ("/{contract}/replays/{id}", "get"),
    ("/{contract}/replays/{id}/users.csv", "get"),
    ("/{contract}/replays/{id}/plot.png", "get"),
}


def test_operations_say_whether_they_need_a_token(document):
    for path, method, operation in operations(document):
        secured = operation.get("security") == [{"bearer": []}]
        assert secured == ((path, method) in NEEDS_TOKEN), (path, method)
        assert "401" in operation["responses"], (path, method)
        assert ("403" in operation["responses"]) == ((path, method) in NEEDS_TOKEN)
    assert "429" in document["paths"]["/{contract}/auth"]["post"]["responses"]


def test_every_operation_may_answer_503_with_retry_after(document):
    for path, method, operation in operations(document):
        unavailable = operation["responses"]["503"]
        assert unavailable["schema"] == {"$ref": "#/definitions/Error"}, (path, method)
        assert unavailable["headers"]["Retry-After"]["type"] == "integer", (path, method)


def test_reads_need_a_token_when_they_are_not_public(make_app):
    document = make_app(**{"backfeed.public_reads": "false"}).get("/__api__").json
    for path, method, operation in operations(document):
        public = path in ("/",) or (path, method) == ("/{contract}/auth", "post")
        public = public or path.startswith("/{contract}/dashboard")  # pages, not figures
        assert (operation.get("security") == [{"bearer": []}]) == (not public), (path, method)


def test_a_vote_documents_the_refusals_of_the_rules(document):
    """The 403 of a vote names self-evaluation besides the token, its 409 the limit on
    changes besides an Idempotency-Key in use."""
    responses = document["paths"]["/{contract}/evaluations"]["post"]["responses"]
    assert "token may not" in responses["403"]["description"]
    assert "allow_self_evaluation" in responses["403"]["description"]
    assert responses["403"]["schema"] == {"$ref": "#/definitions/Error"}
    assert "Idempotency-Key" in responses["409"]["description"]
    assert "max_vote_changes" in responses["409"]["description"]
    assert "1e+15" in responses["409"]["description"]
    users = document["paths"]["/{contract}/users"]["post"]["responses"]
    assert "1e+15" in users["409"]["description"]
    assert responses["409"]["schema"] == {"$ref": "#/definitions/Error"}
    contributions = document["paths"]["/{contract}/contributions"]["post"]["responses"]
    assert "max_vote_changes" not in contributions["409"]["description"]
    assert "allow_self_evaluation" not in contributions["403"]["description"]


def test_a_batch_documents_its_items_and_failures(document):
    schema = body_schema(document, "/{contract}/evaluations/batch")
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["evaluations"]
    items = schema["properties"]["evaluations"]
    assert (items["type"], items["minItems"], items["maxItems"]) == ("array", 1, 100)
    assert set(items["items"]["properties"]) == {"evaluator_id", "contribution_id", "value"}
    responses = document["paths"]["/{contract}/evaluations/batch"]["post"]["responses"]
    assert "failed" in responses["400"]["description"]
    failed = document["definitions"]["Error"]["properties"]["failed"]["items"]
    assert failed["required"] == ["index", "errors"]


def test_a_vote_documents_its_allowances(document):
    responses = document["paths"]["/{contract}/evaluations"]["post"]["responses"]
    assert "evaluations_per_day" in responses["429"]["description"]
    assert responses["429"]["headers"]["Retry-After"]["type"] == "integer"
