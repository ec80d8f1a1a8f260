"""One error document for every refusal: ``{"status": "error", "errors": [...]}``.

Cornice's shape, built here only: by the exception views (:mod:`.api.views.errors`),
by the tweens that answer before any view is reached (:mod:`.pipeline`) and by the
views that refuse in their own words. Every error of the document carries a ``code`` of
:data:`CODES`, stable and machine-readable, beside its ``description`` for people; the
API reference lists them from that table.

A refusal that the web service makes on its own (a missing object, a username taken) is a
:class:`ClientError`; the refusals of a contract's rules stay the engine's
:class:`~protocol.errors.ProtocolError`, answered with the status and code of
:func:`engine_refusal`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from pyramid.response import Response

from protocol import (
    AllowanceExceeded,
    BalanceLimitExceeded,
    InsufficientTokens,
    InvalidEvaluationValue,
    InvalidParameter,
    ProtocolError,
    SelfEvaluationRefused,
    TooManyVoteChanges,
    UnknownContractKind,
    UnknownContribution,
    UnknownContributionType,
    UnknownUser,
)


@dataclass(frozen=True)
class ErrorCode:
    """What one ``code`` of the error document means, and the status it comes with."""

    status: int
    meaning: str


CODES: dict[str, ErrorCode] = {
    "invalid": ErrorCode(
        400,
        "A parameter, a field, a header or the body is not what the route accepts: an "
        "unknown field, a value of the wrong type or out of range, a body that is not a "
        "JSON object, a URL that is not UTF-8, a malformed ``Idempotency-Key``.",
    ),
    "missing": ErrorCode(400, "A required field is left out."),
    "unknown_user": ErrorCode(400, "The user named in the field is not a user of this contract."),
    "unknown_contribution": ErrorCode(
        400, "The contribution named in the field is not one of this contract."
    ),
    "unknown_contribution_type": ErrorCode(
        400, "The contribution type is not one of the contract's types."
    ),
    "invalid_evaluation_value": ErrorCode(
        400, "The vote is not in the evaluation set of the contribution's type."
    ),
    "insufficient_tokens": ErrorCode(400, "The contributor holds fewer tokens than the fee."),
    "webhook_target_refused": ErrorCode(
        400,
        "The webhook's URL is not an ``https`` URL of a host whose addresses are all public "
        "(not private, loopback, link-local or multicast), or its host does not resolve.",
    ),
    "username_taken": ErrorCode(400, "The username is already someone's in this contract."),
    "batch_refused": ErrorCode(
        400,
        "Some items of a batch were refused, so none was applied: ``failed`` lists each by "
        "its ``index`` with its own errors.",
    ),
    "unknown_contract_kind": ErrorCode(
        400, "The ``kind`` of a contract to create is not an installed contract kind."
    ),
    "invalid_parameter": ErrorCode(
        400,
        "A contract parameter to set is unknown, or its value is not one the kind accepts "
        "(``name`` is ``parameters.<parameter>``).",
    ),
    "refused": ErrorCode(400, "Another refusal of the contract's rules."),
    "unauthorized": ErrorCode(
        401,
        "No valid bearer token for this contract: none where one is needed, or one that is "
        "unknown, revoked, expired or of another contract.",
    ),
    "wrong_credentials": ErrorCode(401, "A wrong username or password: one code for both."),
    "forbidden": ErrorCode(
        403, "The bearer token may not do this, or may not act as the user it names."
    ),
    "self_evaluation_refused": ErrorCode(
        403,
        "A vote on one's own contribution, in a contract whose ``allow_self_evaluation`` is "
        "false.",
    ),
    "not_found": ErrorCode(404, "No such route, contract or object of this contract."),
    "method_not_allowed": ErrorCode(405, "The route does not answer this method."),
    "vote_changes_exhausted": ErrorCode(
        409,
        "The evaluator has changed its value on this contribution as many times as the "
        "contract's ``max_vote_changes`` allows.",
    ),
    "contract_exists": ErrorCode(
        409,
        "A ``PUT`` of a contract that exists with another kind or other parameters; change "
        "its parameters with ``PATCH``.",
    ),
    "balance_limit_exceeded": ErrorCode(
        409, "The action would carry a balance, a fund or a contract total above the limit."
    ),
    "replay_queue_full": ErrorCode(
        409,
        "As many replays of the contract are queued or running as the deployment allows "
        "(``backfeed.replays.max_queued``); ask again once one has ended.",
    ),
    "idempotency_key_in_use": ErrorCode(
        409, "A request with this ``Idempotency-Key`` is still running."
    ),
    "idempotency_key_reused": ErrorCode(
        422, "This ``Idempotency-Key`` was used for a different request."
    ),
    "body_too_large": ErrorCode(413, "The body is larger than the deployment accepts."),
    "unsupported_media_type": ErrorCode(
        415, "The body is not JSON or form-encoded UTF-8, or has no ``Content-Type``."
    ),
    "allowance_exceeded": ErrorCode(
        429,
        "The evaluator has cast as many evaluations today (UTC) as a daily allowance of the "
        "contract permits (``name`` is the allowance); ``Retry-After`` is the time left "
        "until midnight UTC.",
    ),
    "rate_limited": ErrorCode(
        429, "Too many requests, or too many failed logins; wait ``Retry-After`` seconds."
    ),
    "internal": ErrorCode(500, "An unexpected failure of the service; it has been logged."),
    "unavailable": ErrorCode(
        503, "The database cannot serve now; try again after ``Retry-After`` seconds."
    ),
    "too_many_waiting": ErrorCode(
        503,
        "Too many requests are already waiting for events (``wait``); try again after "
        "``Retry-After`` seconds.",
    ),
    "too_many_waiting_per_client": ErrorCode(
        429,
        "This client (its token, or its address without one) already has as many requests "
        "waiting for events as one client may; try again after ``Retry-After`` seconds, or "
        "when its waiting request has answered.",
    ),
}
"""Every ``code`` an error of the document may carry; the API reference is made from it."""

STATUS_CODES: dict[int, str] = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}
"""The code of an HTTP error that says no more than its status."""


def status_code(status: int) -> str:
    """The code of an error known only by its HTTP status."""
    return STATUS_CODES.get(status, "invalid" if status < 500 else "internal")


def error_item(code: str, location: str, name: str, description: str) -> dict:
    """One error of the document; ``code`` must be one of :data:`CODES`."""
    if code not in CODES:
        raise ValueError(f"undocumented error code {code!r}")
    return {"location": location, "name": name, "description": description, "code": code}


def error_body(code: str, location: str, name: str, description: str) -> dict:
    """The error document with a single error."""
    return {"status": "error", "errors": [error_item(code, location, name, description)]}


def failed_items_body(items: str, failed: dict[int, list[dict]], size: int) -> dict:
    """The error document of a list refused whole for some of its items (a batch):
    ``failed`` maps an item's index in the body's list ``items`` to its errors, listed in
    ``failed`` beside the usual ``errors``."""
    summary = f"{len(failed)} of the {size} items of {items} were refused, so none was applied"
    return {
        **error_body("batch_refused", "body", items, summary),
        "failed": [{"index": index, "errors": failed[index]} for index in sorted(failed)],
    }


def error_response(status: int, code: str, location: str, name: str, description: str) -> Response:
    """A complete error response, for the tweens that answer before any view is reached
    (a body too large, a URL that is not UTF-8, a refused ``Idempotency-Key``)."""
    body = json.dumps(error_body(code, location, name, description), allow_nan=False)
    return Response(status=status, content_type="application/json", body=body.encode())


class ClientError(Exception):
    """A request the web service refuses for what the client sent or asked, changing
    nothing: answered with :attr:`status` and one error with :attr:`code`, blaming the
    field ``name`` of :attr:`location`."""

    status: int = 400
    code: str = "invalid"
    location: str = "body"
    headers: ClassVar[dict[str, str]] = {}
    """Headers the answer carries besides the error document (``Retry-After``)."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code not in CODES:
            raise TypeError(f"{cls.__name__}.code {cls.code!r} is not one of CODES")

    def __init__(self, description: str, name: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.name = name


class NotFound(ClientError):
    """Nothing at this address: no such contract, or no such object in it (404)."""

    status = 404
    code = "not_found"
    location = "url"


def not_found(what: str) -> NotFound:
    """The 404 for an object of this contract that does not exist."""
    return NotFound(f"no such {what} in this contract")


ENGINE_REFUSALS: dict[type[ProtocolError], tuple[int, str]] = {
    UnknownUser: (400, "unknown_user"),
    UnknownContribution: (400, "unknown_contribution"),
    UnknownContributionType: (400, "unknown_contribution_type"),
    InvalidEvaluationValue: (400, "invalid_evaluation_value"),
    InsufficientTokens: (400, "insufficient_tokens"),
    SelfEvaluationRefused: (403, "self_evaluation_refused"),
    TooManyVoteChanges: (409, "vote_changes_exhausted"),
    BalanceLimitExceeded: (409, "balance_limit_exceeded"),
    AllowanceExceeded: (429, "allowance_exceeded"),
    UnknownContractKind: (400, "unknown_contract_kind"),
    InvalidParameter: (400, "invalid_parameter"),
}
"""The status and code of each refusal of a contract's rules: a vote its rules forbid the
evaluator is a 403, a valid request that the state of the contract forbids a 409, a vote
beyond a daily allowance a 429, the others 400s."""


def engine_refusal(exc: ProtocolError) -> tuple[int, str]:
    """The HTTP status and code of a refusal of the engine, by its class (a plugin's own
    refusal is a 400 ``refused``)."""
    for cls in type(exc).__mro__:
        if cls in ENGINE_REFUSALS:
            return ENGINE_REFUSALS[cls]
    return 400, "refused"
