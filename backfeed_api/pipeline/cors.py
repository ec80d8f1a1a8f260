"""Cross-origin requests from browsers (CORS): off unless ``backfeed.cors_origins`` lists
the origins of the browser applications that may call the API.

With no origin listed nothing is installed, and no response carries a CORS header. With
origins listed:

- a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from a listed origin is
  answered ``204`` with the methods (``GET, HEAD, POST, DELETE``) and request headers
  (``Authorization, Content-Type, Idempotency-Key``) the API takes, kept by the browser for
  ``backfeed.cors_max_age`` seconds;
- every response to a listed origin, errors included, carries
  ``Access-Control-Allow-Origin`` with that origin and exposes the headers a client reads
  (``Location``, ``Idempotent-Replayed``, ``Retry-After``, ``WWW-Authenticate``, and the
  rate limits' ``RateLimit`` and ``RateLimit-Policy``);
- an origin not listed gets no CORS header at all, so the browser keeps the response from
  the page; its preflight goes on to the routes, which answer ``405``.

Every response then says ``Vary: Origin``, since it depends on that header. Tokens travel in
the ``Authorization`` header, never in cookies, so credentials mode is not allowed.

Cornice has CORS options of its own, but per service and fixed when the service is defined;
the origins here are a setting of the deployment, so one tween and one response subscriber
apply them to every route alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyramid.config import Configurator
from pyramid.events import NewResponse
from pyramid.response import Response

from ..settings import CORS_MAX_AGE, CORS_ORIGINS

METHODS = "GET, HEAD, POST, DELETE"
REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key"
EXPOSED_HEADERS = (
    "Location, Idempotent-Replayed, Retry-After, WWW-Authenticate, RateLimit, RateLimit-Policy"
)


@dataclass(frozen=True)
class CorsPolicy:
    """The origins allowed, and how long a preflight answer may be kept."""

    origins: frozenset[str]
    max_age: int

    def allows(self, origin: str | None) -> bool:
        """Whether ``origin`` (the request's Origin header) is listed."""
        return origin is not None and origin in self.origins


def _vary_on_origin(response: Response) -> None:
    vary = response.vary or ()
    if "Origin" not in vary:
        response.vary = (*vary, "Origin")


def preflight(origin: str, policy: CorsPolicy) -> Response:
    """The answer to a listed origin's preflight: what it may send, for how long."""
    response = Response(status=204)
    response.headers.update(
        {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": REQUEST_HEADERS,
            "Access-Control-Max-Age": str(policy.max_age),
        }
    )
    return response


def is_preflight(request) -> bool:
    """Whether the request is a CORS preflight rather than an OPTIONS of its own."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def cors_tween_factory(handler: Callable, registry) -> Callable:
    """The tween answering the preflights of listed origins, on any path."""
    policy: CorsPolicy = registry["cors_policy"]

    def tween(request):
        origin = request.headers.get("Origin")
        if is_preflight(request) and policy.allows(origin):
            return preflight(origin, policy)
        return handler(request)

    return tween


def add_cors_headers(event: NewResponse) -> None:
    """Allow a listed origin to read the response; say it varies with the origin."""
    policy: CorsPolicy = event.request.registry["cors_policy"]
    response = event.response
    _vary_on_origin(response)
    origin = event.request.headers.get("Origin")
    if policy.allows(origin) and "Access-Control-Allow-Origin" not in response.headers:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def includeme(config: Configurator) -> None:
    """Install CORS when ``backfeed.cors_origins`` lists origins; otherwise do nothing."""
    settings = config.get_settings()
    policy = CorsPolicy(CORS_ORIGINS.read(settings), CORS_MAX_AGE.read(settings))
    config.registry["cors_policy"] = policy
    if not policy.origins:
        return
    config.add_tween(
        "backfeed_api.pipeline.cors.cors_tween_factory", over="pyramid_tm.tm_tween_factory"
    )
    config.add_subscriber(add_cors_headers, NewResponse)
