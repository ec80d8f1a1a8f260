"""The responses of ``/__api__``: JSON schemas of the documents each operation answers with.

cornice_swagger documents requests from the colander schemas, but knows nothing of what a
view returns; it writes an ``UNDOCUMENTED RESPONSE`` default for every operation. This
module replaces that with the statuses each operation can answer, and the schema of each
body (the shapes of ``docs/api.rst``), so that clients and conformance tests can check responses.

Objects stay open (``additionalProperties`` is not closed) because new fields may be added
to the published shapes; every field they have today is required. The error document is
closed: it has exactly one shape.
"""

from __future__ import annotations

from typing import Any

from protocol import MAX_BALANCE

from ..schemas import MAX_ID

Schema = dict[str, Any]

NUMBER: Schema = {"type": "number"}
STRING: Schema = {"type": "string"}
COUNT: Schema = {"type": "integer", "minimum": 0}
ID: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
TIME: Schema = {"type": "string", "format": "date-time"}


def ref(name: str) -> Schema:
    """A reference to one of :data:`DEFINITIONS`."""
    return {"$ref": f"#/definitions/{name}"}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with ``properties``, all required but the ``optional`` ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


def page(item: str) -> Schema:
    """A page of a collection of ``item``, with the URLs of the pages around it."""
    link = {**STRING, "format": "uri"}
    return obj(
        {
            "count": COUNT,
            "_meta": obj(
                {"total": COUNT, "limit": COUNT, "start": COUNT, "next": link, "prev": link},
                optional=("next", "prev"),
            ),
            "items": {"type": "array", "items": ref(item)},
        }
    )


ERROR_ITEMS: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "location": STRING,
            "name": STRING,
            "description": {**STRING, "minLength": 1},
        },
        "required": ["location", "name", "description"],
        "additionalProperties": False,
    },
}
ERROR: Schema = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "errors": ERROR_ITEMS,
        "failed": {
            "type": "array",
            "description": "the refused items of a batch, by their index in it",
            "items": {
                "type": "object",
                "properties": {"index": COUNT, "errors": ERROR_ITEMS},
                "required": ["index", "errors"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["status", "errors"],
    "additionalProperties": False,
}

DEFINITIONS: dict[str, Schema] = {
    "Error": ERROR,
    "User": obj(
        {
            "id": ID,
            "tokens": NUMBER,
            "reputation": NUMBER,
            "reputation_normalized": NUMBER,
            "total_reputation": NUMBER,
            "referrer": obj({"id": ID}),
            "created_at": TIME,
        },
        optional=("referrer",),
    ),
    "Contribution": obj(
        {
            "id": ID,
            "type": STRING,
            "contributor": ref("User"),
            "stats": obj(
                {
                    "evaluations": {
                        "type": "object",
                        "additionalProperties": obj({"reputation": NUMBER}),
                    },
                    "engaged_reputation": NUMBER,
                    "quality": NUMBER,
                    "score": NUMBER,
                }
            ),
            "max_score": NUMBER,
            "token_fund": NUMBER,
            "created_at": TIME,
        }
    ),
    "Evaluation": obj(
        {
            "id": ID,
            "value": NUMBER,
            "active": {"type": "boolean"},
            "evaluator": ref("User"),
            "contribution": ref("Contribution"),
            "created_at": TIME,
        }
    ),
    "LedgerEntry": obj(
        {
            "id": ID,
            "cause": obj(
                {"type": {**STRING, "enum": ["user", "contribution", "evaluation"]}, "id": ID}
            ),
            "reputation_delta": NUMBER,
            "tokens_delta": NUMBER,
            "reputation": NUMBER,
            "tokens": NUMBER,
            "created_at": TIME,
        }
    ),
    "Batch": obj({"evaluations": {"type": "array", "items": ref("Evaluation")}}),
    "UserPage": page("User"),
    "ContributionPage": page("Contribution"),
    "EvaluationPage": page("Evaluation"),
    "LedgerPage": page("LedgerEntry"),
    "Service": obj(
        {
            "version": STRING,
            "contracts": {
                "type": "array",
                "items": obj({"name": STRING, "kind": STRING, "url": STRING}),
            },
        }
    ),
    "Login": obj(
        {
            "token": STRING,
            "token_id": ID,
            "user_id": ID,
            "role": {"type": "string", "enum": ["user"]},
            "contract": STRING,
            "expires_at": TIME,
        }
    ),
    "LoginToken": obj(
        {"id": ID, "created_at": TIME, "expires_at": TIME, "current": {"type": "boolean"}}
    ),
    "LoginTokenPage": page("LoginToken"),
    "Contract": obj(
        {
            "name": STRING,
            "kind": STRING,
            "parameters": {"type": "object"},
            "types": {"type": "object", "additionalProperties": {"type": "object"}},
            "default_type": STRING,
            "totals": obj(
                {
                    "users": COUNT,
                    "contributions": COUNT,
                    "evaluations": COUNT,
                    "reputation": NUMBER,
                    "tokens": NUMBER,
                }
            ),
            "created_at": TIME,
        }
    ),
}

RETRY_AFTER = {"Retry-After": {"type": "integer", "minimum": 1, "description": "seconds to wait"}}

# What every operation may answer with besides its success: a request that fails
# validation, a contract or object that is not there, a body that is too large or not
# JSON (or form-encoded) UTF-8, a database that cannot serve now.
COMMON_ERRORS = {
    "400": "The request failed validation (see the errors).",
    "404": "No such contract, or no such object in this contract.",
    "413": "The body is larger than the deployment accepts.",
    "415": "The body is not JSON or form-encoded UTF-8.",
    "503": "The database is unavailable; try again after `Retry-After` seconds.",
}
ERROR_HEADERS = {"429": RETRY_AFTER, "503": RETRY_AFTER}
# POSTs, with an Idempotency-Key.
WRITE_ERRORS = {
    "409": "A request with this Idempotency-Key is still running.",
    "422": "This Idempotency-Key was used for a different request.",
}
# Refusals of the contract's rules that are not validation errors, by operation; each adds
# to what the status already says for every operation.
REFUSALS: dict[tuple[str, str], dict[str, str]] = {
    ("/{contract}/evaluations", "post"): {
        "403": "Or the evaluator is the contribution's contributor, in a contract whose "
        "allow_self_evaluation is false.",
        "409": "Or the evaluator has changed its value on this contribution as many times as "
        "the contract's max_vote_changes allows, or the vote would carry a balance, a fund "
        f"or a total above {MAX_BALANCE:g}.",
        "429": "Or the evaluator has cast as many evaluations today (UTC) as an allowance of "
        "the contract permits (the error's `name`: evaluations_per_day or "
        "evaluations_per_contributor_per_day); `Retry-After` is the time left until "
        "midnight UTC.",
    },
    ("/{contract}/evaluations/batch", "post"): {
        "400": "Or some votes were refused, each listed in `failed` by its index; none was "
        "applied.",
        "403": "Or an item names another evaluator than the user of the token.",
    },
    ("/{contract}/users", "post"): {
        "409": f"Or the new user would carry the contract's totals above {MAX_BALANCE:g}.",
    },
}
LOCATION = {"Location": {"type": "string", "description": "the URL of the created object"}}
LINK = {
    "Link": {
        "type": "string",
        "description": 'the next and previous pages (RFC 8288): `<URL>; rel="next", <URL>; '
        'rel="prev"`, each absent at its end, as in `_meta`',
    }
}
# The IETF httpapi draft's header fields, on every answer while rate limits are on.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "type": "string",
        "pattern": '^"(logins|writes|reads)";q=[0-9]+;w=[0-9]+$',
        "description": 'the limit this request counts against: `"reads";q=600;w=60` is 600 '
        "requests in 60 seconds",
    },
    "RateLimit": {
        "type": "string",
        "pattern": '^"(logins|writes|reads)";r=[0-9]+;t=[0-9]+$',
        "description": 'what is left of it: `"reads";r=599;t=42` is 599 more requests in '
        "the 42 seconds until its count starts again",
    },
}
TOO_MANY_REQUESTS = (
    "Too many requests from this client (its token, or its address) for the limit named in "
    "`RateLimit-Policy`; wait `Retry-After` seconds."
)

# (path, method) → {status: (description, definition or None for no body, headers)}
SUCCESS: dict[tuple[str, str], dict[str, tuple[str, str | None, dict]]] = {
    ("/", "get"): {"200": ("The service and its contracts.", "Service", {})},
    ("/{contract}", "get"): {"200": ("The contract.", "Contract", {})},
    ("/{contract}/users", "get"): {"200": ("A page of users.", "UserPage", LINK)},
    ("/{contract}/users", "post"): {"201": ("The created user.", "User", LOCATION)},
    ("/{contract}/users/{id}", "get"): {"200": ("The user.", "User", {})},
    ("/{contract}/users/{id}/history", "get"): {
        "200": ("A page of the user's ledger, newest first.", "LedgerPage", LINK)
    },
    ("/{contract}/contributions", "get"): {
        "200": ("A page of contributions.", "ContributionPage", LINK)
    },
    ("/{contract}/contributions", "post"): {
        "201": ("The created contribution.", "Contribution", LOCATION)
    },
    ("/{contract}/contributions/{id}", "get"): {"200": ("The contribution.", "Contribution", {})},
    ("/{contract}/evaluations", "get"): {
        "200": ("A page of evaluations.", "EvaluationPage", LINK)
    },
    ("/{contract}/evaluations", "post"): {
        "201": ("The new vote.", "Evaluation", LOCATION),
        "200": ("The same vote again: the evaluation that stands, unchanged.", "Evaluation", {}),
    },
    ("/{contract}/evaluations/batch", "post"): {
        "201": ("Every vote applied, in order: each as its single vote answers.", "Batch", {}),
        "200": ("Every vote repeated an active one: nothing changed.", "Batch", {}),
    },
    ("/{contract}/evaluations/{id}", "get"): {"200": ("The evaluation.", "Evaluation", {})},
    ("/{contract}/auth", "post"): {
        "201": ("A new user token, shown this once.", "Login", {}),
        "401": ("Wrong username or password.", "Error", {}),
        "429": (
            "Too many logins from this address, or too many failed logins for this username "
            "or from this address; wait `Retry-After` seconds.",
            "Error",
            RETRY_AFTER,
        ),
    },
    ("/{contract}/auth", "delete"): {"204": ("Logged out: the token is revoked.", None, {})},
    ("/{contract}/auth/tokens", "get"): {
        "200": ("A page of the user's live login tokens, oldest first.", "LoginTokenPage", LINK)
    },
    ("/{contract}/auth/tokens/{id}", "delete"): {"204": ("The login token is revoked.", None, {})},
}


CACHING = {
    "ETag": {"type": "string", "description": "the representation's tag, for If-None-Match"},
    "Cache-Control": {
        "type": "string",
        "description": "`no-cache` (revalidate before use) without a token, `no-store` with one",
    },
}
NOT_MODIFIED = {
    "description": "The representation whose ETag the request's If-None-Match holds is still "
    "current; no body.",
    "headers": CACHING,
}


def operation_responses(path: str, method: str) -> dict[str, Schema]:
    """The ``responses`` object of one operation; a read's success carries its ETag, and a
    read may answer 304."""
    responses: dict[str, Schema] = {}
    for status, (description, definition, headers) in SUCCESS[(path, method)].items():
        responses[status] = {"description": description}
        if definition is not None:
            responses[status]["schema"] = ref(definition)
        if method == "get":
            headers = {**headers, **CACHING}
        if headers:
            responses[status]["headers"] = headers
    if method == "get":
        responses["304"] = NOT_MODIFIED
    errors = {
        **COMMON_ERRORS,
        "429": TOO_MANY_REQUESTS,
        **(WRITE_ERRORS if method == "post" else {}),
    }
    for status, refusal in REFUSALS.get((path, method), {}).items():
        errors[status] = f"{errors[status]} {refusal}" if status in errors else refusal
    for status, description in sorted(errors.items()):
        if status in responses:  # the operation's own (a login's 429)
            continue
        responses[status] = {"description": description, "schema": ref("Error")}
        if status in ERROR_HEADERS:
            responses[status]["headers"] = ERROR_HEADERS[status]
    for response in responses.values():
        response["headers"] = {**response.get("headers", {}), **RATE_LIMIT_HEADERS}
    return responses


def document_responses(document: dict) -> dict:
    """Put the responses of every operation, and their definitions, in ``document``."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"] = operation_responses(path, method)
    document.setdefault("definitions", {}).update(DEFINITIONS)
    return document
