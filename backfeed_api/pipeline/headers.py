"""Security headers on every response, errors and refusals included.

The API only ever serves JSON to programs, so browsers are told not to guess another media
type (``nosniff``), not to frame it (``X-Frame-Options`` and CSP ``frame-ancestors``), not to
load anything on its behalf (CSP ``default-src 'none'``), and not to send its URLs on as a
referrer. Responses to requests that carry credentials (an ``Authorization`` header), and
every error, are marked ``Cache-Control: no-store``: no cache along the way may keep them.

Transport security (HSTS) belongs to the TLS terminator in front of the service, which
alone knows whether the public address is HTTPS.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.events import NewResponse
from pyramid.response import Response

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def must_not_be_stored(request, response) -> bool:
    """Whether no cache may keep this response: an error, or an answer to credentials."""
    return response.status_code >= 400 or "Authorization" in request.headers


def secure(response: Response, *, storable: bool) -> None:
    """Set the security headers on ``response``, and ``Cache-Control: no-store`` unless it
    is ``storable``. A view that serves a page (the dashboard) sets a policy of its own,
    which is kept."""
    policy = response.headers.get("Content-Security-Policy")
    response.headers.update(ALWAYS)
    if policy is not None:
        response.headers["Content-Security-Policy"] = policy
    if not storable:
        response.headers["Cache-Control"] = "no-store"


def add_security_headers(event: NewResponse) -> None:
    """Set the security headers on the response about to be sent."""
    secure(event.response, storable=not must_not_be_stored(event.request, event.response))


def includeme(config: Configurator) -> None:
    """Subscribe to every response the application produces."""
    config.add_subscriber(add_security_headers, NewResponse)
