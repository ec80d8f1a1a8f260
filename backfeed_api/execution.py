"""How each request is executed: tried again when the database says so, and answered in JSON
whatever fails.

``pyramid_retry`` runs a request again, up to ``retry.attempts`` times in all, when it failed
with an error marked retryable (a deadlock, a serialization failure, a connection lost
before the commit: see :mod:`backfeed_api.api.views.errors`). The exception views answer every
failure raised inside ``pyramid_tm``, its commit included. What fails outside them (reading
the request, the tweens above the transaction, beginning or aborting the transaction, the
subscribers that set the headers of a response) would reach waitress, which answers a
plain-text 500: here it is answered in the JSON error shape, with the security headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.response import Response
from pyramid_retry import RetryableExecutionPolicy

from .api.views.errors import INTERNAL, RETRY_AFTER_SECONDS, UNAVAILABLE, database_unavailable
from .errors import error_response
from .pipeline.headers import secure
from .settings import RETRY_ATTEMPTS

log = logging.getLogger(__name__)


def last_resort(exc: Exception) -> Response:
    """The answer to a failure that no exception view answered: a 503 for a database that
    cannot serve now, else a 500."""
    if database_unavailable(exc):
        response = error_response(503, "unavailable", "", "", UNAVAILABLE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    else:
        response = error_response(500, "internal", "", "", INTERNAL)
    secure(response, storable=False)
    return response


def json_execution_policy(attempts: int) -> Callable:
    """``pyramid_retry``'s execution policy, with :func:`last_resort` for what escapes it."""
    retrying = RetryableExecutionPolicy(attempts)

    def policy(environ: dict, router) -> Response:
        try:
            return retrying(environ, router)
        except Exception as exc:
            log.exception(
                "unhandled error outside the views on %s %r",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            return last_resort(exc)

    return policy


def includeme(config: Configurator) -> None:
    """Execute every request through :func:`json_execution_policy`."""
    settings = config.get_settings()
    # deadlocks, serialization failures, connections lost before the commit
    attempts = settings[RETRY_ATTEMPTS.name] = RETRY_ATTEMPTS.read(settings)
    config.set_execution_policy(json_execution_policy(attempts))
