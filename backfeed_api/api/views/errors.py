"""One JSON error shape everywhere, Cornice's: ``{"status": "error", "errors": [...]}``.

Validation errors already have it; protocol rejections become 400s in it (403 for a vote on
one's own contribution, 409 for a vote change beyond the contract's limit or an action that
would pass the balance limit); refused permissions become 401s or 403s; a database that
cannot serve now is a 503 with ``Retry-After``; HTTP errors (404, 405, 415, 429…) and
unexpected failures (500) are rendered in it too, never as HTML, and never with a
traceback, a setting, a database URL or a token.
"""

from __future__ import annotations

import logging

from cornice.renderer import CorniceRenderer, JSONError
from pyramid.httpexceptions import HTTPException, HTTPForbidden, HTTPInternalServerError
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from pyramid_retry import mark_error_retryable
from pyramid_tm import is_tm_active
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from protocol import ProtocolError

from ...errors import ClientError, engine_refusal, error_body, status_code

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
"""What a 503 tells the client to wait before trying again."""
UNAVAILABLE = "the database is unavailable; try again later"
INTERNAL = "internal error; it has been logged"


def _respond(request, status: int, code: str, location: str, name: str, description: str) -> dict:
    request.response.status_code = status
    request.response.headers.pop("Location", None)
    return error_body(code, location, name, description)


@notfound_view_config(renderer="json")
def unknown_route(exc, request) -> dict:
    """A URL that no route matches."""
    description = exc.detail if isinstance(exc.detail, str) and exc.detail else "not found"
    return _respond(request, 404, "not_found", "url", "", description)


@exception_view_config(ClientError, renderer="json")
def client_error(exc: ClientError, request) -> dict:
    """A refusal of the web service (:class:`~backfeed_api.errors.ClientError`): a missing
    object, a username taken."""
    return _respond(request, exc.status, exc.code, exc.location, exc.name, exc.description)


@forbidden_view_config(renderer="json")
def forbidden(exc: HTTPForbidden, request) -> dict:
    """A permission refused by the security policy: 401 (no valid token for this contract,
    with a ``WWW-Authenticate: Bearer`` challenge) or 403 (a token that may not do this).

    The reason comes from the policy's :class:`~backfeed_api.auth.policy.Refusal`; Pyramid's
    own message, which names the view, is never shown.
    """
    refusal = exc.result
    status = getattr(refusal, "status", 403)
    description = getattr(refusal, "description", "this token may not do this")
    code = "unauthorized" if status == 401 else "forbidden"
    body = _respond(request, status, code, "header", "Authorization", description)
    challenge = getattr(refusal, "challenge", None)
    if challenge:
        request.response.headers["WWW-Authenticate"] = challenge
    return body


@exception_view_config(ProtocolError, renderer="json")
def protocol_error(exc: ProtocolError, request) -> dict:
    """An action the contract refuses: an error on the field at fault, with the status and
    code of :data:`~backfeed_api.errors.ENGINE_REFUSALS`."""
    status, code = engine_refusal(exc)
    return _respond(request, status, code, "body", exc.field or "", exc.message)


@exception_view_config(HTTPException, renderer="json")
def http_error(exc: HTTPException, request):
    """Other HTTP errors (405, 415, 413…) in the JSON error shape.

    Cornice raises its own :class:`JSONError` (a 415 or 406 from its content negotiation)
    with the error body already rendered in this shape; it is passed through as it is.
    """
    if exc.code < 400 or isinstance(exc, JSONError):
        return exc
    detail = getattr(exc, "detail", None)
    description = detail if isinstance(detail, str) and detail else exc.title
    body = _respond(request, exc.code, status_code(exc.code), "url", "", description)
    for header in ("Allow", "WWW-Authenticate", "Retry-After"):
        if header in exc.headers:
            request.response.headers[header] = exc.headers[header]
    return body


def database_unavailable(exc: Exception) -> bool:
    """Whether ``exc`` says the database is out of reach or cannot serve now, rather than
    that the request or the code is wrong: its connection was lost or refused, it is shutting
    down, overloaded or locked (``OperationalError``), or no pooled connection came free in
    time."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | PoolTimeout)


@exception_view_config(DBAPIError, renderer="json")
@exception_view_config(PoolTimeout, renderer="json")
def database_error(exc: Exception, request) -> dict:
    """A database that cannot serve now: 503 with ``Retry-After``; any other database error
    is a 500 (:func:`server_error`).

    A connection lost before the commit took the transaction with it: nothing of the request
    was applied, and it is tried again on a new connection (``pyramid_retry``, up to
    ``retry.attempts`` in all); the client sees the 503 only when every attempt failed. One
    lost at the commit leaves the outcome unknown, so it is not tried again here: the client
    may send it again, with the same ``Idempotency-Key`` if it had one.
    """
    if not database_unavailable(exc):
        return server_error(exc, request)
    log.warning(
        "database unavailable on %s %r: %s",
        request.method,
        request.environ.get("PATH_INFO"),
        str(exc).splitlines()[0],
    )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated and is_tm_active(request):
        mark_error_retryable(exc)
    body = _respond(request, 503, "unavailable", "", "", UNAVAILABLE)
    request.response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return body


@exception_view_config(Exception, renderer="json")
def server_error(exc: Exception, request) -> dict:
    """Anything unexpected: logged in full here, a bare 500 for the client."""
    # The raw PATH_INFO: decoding it (``request.path``) could fail again on the bytes that
    # may have caused the error.
    log.exception("unhandled error on %s %r", request.method, request.environ.get("PATH_INFO"))
    status = HTTPInternalServerError.code
    return _respond(request, status, "internal", "", "", INTERNAL)


def cornice_code(error: dict) -> str:
    """The code of an error that Cornice records itself: a required field left out, a
    media type the route does not consume, or another value its schema refuses."""
    if error.get("description") == "Required":
        return "missing"
    if (error.get("location"), error.get("name")) == ("header", "Content-Type"):
        return "unsupported_media_type"
    return "invalid"


class ErrorRenderer(CorniceRenderer):
    """Cornice's renderer, giving each error that Cornice records without a ``code``
    (:func:`cornice_code`) one."""

    def render_errors(self, request) -> JSONError:
        """The error response of ``request.errors``, every error with its code."""
        for error in request.errors:
            error.setdefault("code", cornice_code(error))
        return super().render_errors(request)
