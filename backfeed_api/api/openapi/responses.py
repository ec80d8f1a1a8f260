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

import colander
from cornice import Service

from ...domain.events import EVENT_TYPES
from ...errors import CODES
from ..schemas import MAX_ID

Schema = dict[str, Any]

NUMBER: Schema = {"type": "number"}
STRING: Schema = {"type": "string"}
COUNT: Schema = {"type": "integer", "minimum": 0}
ID: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
TIME: Schema = {"type": "string", "format": "date-time"}
SHARE: Schema = {"type": "number", "minimum": 0, "maximum": 1}
AMOUNT: Schema = {"type": "number", "minimum": 0}
RANK: Schema = {"type": "integer", "minimum": 1}
URL: Schema = {"type": "string", "format": "uri"}


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
            "code": {**STRING, "enum": sorted(CODES)},
        },
        "required": ["location", "name", "description", "code"],
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

WEBHOOK: dict[str, Schema] = {
    "id": ID,
    "url": STRING,
    "types": {"type": "array", "items": {**STRING, "enum": list(EVENT_TYPES)}},
    "description": STRING,
    "enabled": {"type": "boolean"},
    "failing": {"type": "boolean"},
    "last_event_id": ID,
    "created_at": TIME,
}

EXPLANATION: dict[str, Schema] = {
    "user_id": {**ID, "x-nullable": True},
    "rule": STRING,
    "inputs": {"type": "object", "additionalProperties": NUMBER},
    "formula": {"type": "object", "additionalProperties": STRING},
    "config_version": {"type": "integer", "minimum": 1, "x-nullable": True},
}
"""What every ledger entry says of itself: which rule, from which inputs, by which formula,
under which configuration version (None: an entry written before explanations)."""

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
            **EXPLANATION,
        }
    ),
    "PlannedEntry": obj(
        {
            "cause": obj(
                {
                    "type": {**STRING, "enum": ["user", "contribution", "evaluation"]},
                    "id": {"type": "null"},
                }
            ),
            "reputation_delta": NUMBER,
            "tokens_delta": NUMBER,
            **EXPLANATION,
        }
    ),
    "Stats": obj(
        {
            "period": obj({"from": TIME, "to": TIME}),
            "pulse": {
                "type": "array",
                "items": obj(
                    {
                        "time": TIME,
                        "rate": SHARE,
                        "evaluations": COUNT,
                        "contributions": COUNT,
                        "users": COUNT,
                    }
                ),
            },
            "most_active": {
                "type": "array",
                "maxItems": 10,
                "items": obj({"user_id": ID, "actions": COUNT}),
            },
            "reputation": obj(
                {
                    "gini": SHARE,
                    "top_10_percent_share": SHARE,
                    "lorenz": {
                        "type": "array",
                        "items": {"type": "array", "items": SHARE, "minItems": 2, "maxItems": 2},
                    },
                }
            ),
            "agreement_rate": {**SHARE, "type": ["number", "null"]},
            "issued": obj(
                {
                    what: obj({"created": AMOUNT, "destroyed": AMOUNT})
                    for what in ("reputation", "tokens")
                }
            ),
        }
    ),
    "Leaderboard": obj(
        {
            "metric": STRING,
            "period": STRING,
            "count": COUNT,
            "_meta": obj({"total": COUNT, "limit": COUNT, "start": COUNT}),
            "items": {
                "type": "array",
                "items": obj({"rank": RANK, "user": ref("User"), "value": NUMBER}),
            },
            "me": obj({"rank": RANK, "value": NUMBER}),
        },
        optional=("me",),
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
    "Change": obj(
        {
            "user_id": {**ID, "x-nullable": True},
            "reputation_delta": NUMBER,
            "tokens_delta": NUMBER,
            "reputation": NUMBER,
            "tokens": NUMBER,
        }
    ),
    "Event": obj(
        {
            "id": ID,
            "type": {**STRING, "enum": list(EVENT_TYPES)},
            "created_at": TIME,
            "data": {
                "type": "object",
                "properties": {"changes": {"type": "array", "items": ref("Change")}},
                "required": ["changes"],
            },
        }
    ),
    "EventPage": obj(
        {
            "count": COUNT,
            "_meta": obj(
                {"total": COUNT, "limit": COUNT, "start": COUNT, "after": ID, "next_after": ID}
            ),
            "items": {"type": "array", "items": ref("Event")},
        }
    ),
    "Webhook": obj(WEBHOOK),
    "NewWebhook": obj({**WEBHOOK, "secret": {**STRING, "pattern": "^whsec_"}}),
    "WebhookPage": page("Webhook"),
    "Delivery": obj(
        {
            "id": ID,
            "event_id": ID,
            "attempt": COUNT,
            "status": {"type": "integer", "x-nullable": True},
            "error": {**STRING, "x-nullable": True},
            "delivered": {"type": "boolean"},
            "duration_ms": NUMBER,
            "attempted_at": TIME,
        }
    ),
    "DeliveryPage": page("Delivery"),
    "LoginToken": obj(
        {"id": ID, "created_at": TIME, "expires_at": TIME, "current": {"type": "boolean"}}
    ),
    "LoginTokenPage": page("LoginToken"),
    "ContractVersion": obj(
        {
            "version": {"type": "integer", "minimum": 1},
            "overrides": {"type": "object"},
            "parameters": {"type": "object"},
            "after_action": COUNT,
            "origin": {**STRING, "enum": ["ini", "http"]},
            "token_id": {**ID, "x-nullable": True},
            "created_at": TIME,
        }
    ),
    "ContractVersionPage": page("ContractVersion"),
    "Contract": obj(
        {
            "name": STRING,
            "kind": STRING,
            "version": {"type": "integer", "minimum": 1},
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

FIGURES = obj({"total_reputation": NUMBER, "total_tokens": NUMBER, "gini": SHARE})
MOVED = {
    "type": "array",
    "items": obj(
        {
            "user_id": ID,
            "actual_reputation": NUMBER,
            "what_if_reputation": NUMBER,
            "change": NUMBER,
        }
    ),
}
REPLAY_REPORT = {
    **obj(
        {
            "overrides": {"type": "object"},
            "actions": COUNT,
            "users": COUNT,
            "actual": FIGURES,
            "what_if": FIGURES,
            "gainers": MOVED,
            "losers": MOVED,
            "refused": obj(
                {
                    "counts": obj({"users": COUNT, "contributions": COUNT, "evaluations": COUNT}),
                    "first": {
                        "type": "array",
                        "items": obj({"kind": STRING, "id": ID, "reason": STRING}),
                    },
                }
            ),
            "links": obj({"users_csv": URL, "plot": URL}),
        }
    ),
    "x-nullable": True,
}
DEFINITIONS["Replay"] = obj(
    {
        "id": ID,
        "url": URL,
        "status": {**STRING, "enum": ["queued", "running", "done", "failed"]},
        "progress": SHARE,
        "parameters": {"type": "object"},
        "created_at": TIME,
        "started_at": {**TIME, "x-nullable": True},
        "finished_at": {**TIME, "x-nullable": True},
        "expires_at": {**TIME, "x-nullable": True},
        "result": REPLAY_REPORT,
        "error": {**STRING, "x-nullable": True},
    }
)
DEFINITIONS["ReplayPage"] = page("Replay")

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
LOCATION = {"Location": {"type": "string", "description": "the URL of the created object"}}
LINK = {
    "Link": {
        "type": "string",
        "pattern": '^<[^>]+>; rel="(next|prev)"(, <[^>]+>; rel="(next|prev)")?$',
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


def preview(name: str) -> Schema:
    """The answer to a dry run of creating a ``name``: its shape, without an id, with the
    entries the action would write."""
    shape = DEFINITIONS[name]
    return {
        **shape,
        "properties": {
            **shape["properties"],
            "id": {**ID, "x-nullable": True, "enum": [None]},
            "dry_run": {"type": "boolean", "enum": [True]},
            "entries": {"type": "array", "items": ref("PlannedEntry")},
        },
        "required": [*shape["required"], "dry_run", "entries"],
    }


DEFINITIONS.update(
    {f"{name}Preview": preview(name) for name in ("User", "Contribution", "Evaluation")}
)
DEFINITIONS["EvaluationAnswer"] = {
    **DEFINITIONS["Evaluation"],
    "properties": {
        **DEFINITIONS["EvaluationPreview"]["properties"],
        "id": {**ID, "x-nullable": True},
    },
}
"""The 200 of a vote: the evaluation that stands, or a dry run's would-be one."""


HEADERS = {**LOCATION, **RETRY_AFTER, **LINK}
"""The headers a view may name in an :func:`~..responses.answer`."""


class UndeclaredResponses(Exception):
    """A route whose view does not declare its ``response_schemas``."""


def undeclared(routes: list[tuple[Service, str, dict]]) -> list[str]:
    """The routes (``METHOD path``) whose view declares no ``response_schemas`` or no
    permission: a route must say what it answers and who may call it."""
    return [
        f"{method} {service.path}"
        for service, method, args in routes
        if not args.get("response_schemas") or "permission" not in args
    ]


CACHING = {
    "ETag": {
        "type": "string",
        "pattern": '^"[0-9a-f]{32}"$',
        "description": "the representation's tag, for If-None-Match",
    },
    "Cache-Control": {
        "type": "string",
        "pattern": "^no-(cache|store)$",
        "description": "`no-cache` (revalidate before use) without a token, `no-store` with one",
    },
}
NOT_MODIFIED = {
    "description": "The representation whose ETag the request's If-None-Match holds is still "
    "current; no body.",
    "headers": CACHING,
}


def operation_responses(method: str, declared: dict[str, colander.SchemaNode]) -> dict:
    """The ``responses`` object of one operation, from its view's declared responses; a
    read's success carries its ETag, and a read may answer 304."""
    responses: dict[str, Schema] = {}
    refusals: dict[str, str] = {}
    for status, node in declared.items():
        if node.refusal:
            refusals[status] = node.description
            continue
        responses[status] = {"description": node.description}
        if node.definition is not None:
            responses[status]["schema"] = ref(node.definition)
        headers = {name: HEADERS[name] for name in node.headers}
        if method == "get":
            headers.update(CACHING)
        if headers:
            responses[status]["headers"] = headers
    if method == "get":
        responses["304"] = NOT_MODIFIED
    errors = {
        **COMMON_ERRORS,
        "429": TOO_MANY_REQUESTS,
        **(WRITE_ERRORS if method == "post" else {}),
    }
    for status, refusal in refusals.items():
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


def document_responses(document: dict, routes: list[tuple[Service, str, dict]]) -> dict:
    """Put the responses of every operation, and their definitions, in ``document``."""
    missing = undeclared(routes)
    if missing:
        raise UndeclaredResponses(
            f"declare response_schemas and a permission on: {', '.join(missing)}"
        )
    for service, method, args in routes:
        operation = document["paths"][service.path][method.lower()]
        operation["responses"] = operation_responses(method.lower(), args["response_schemas"])
        if str(args.get("renderer", "")).endswith(".jinja2"):  # a web page; errors are JSON
            operation["produces"] = ["text/html", "application/json"]
        media_types = [
            node.media_type
            for node in args["response_schemas"].values()
            if getattr(node, "media_type", None)
        ]
        if media_types:  # a file; errors are JSON
            operation["produces"] = [*media_types, "application/json"]
    document.setdefault("definitions", {}).update(DEFINITIONS)
    return document
