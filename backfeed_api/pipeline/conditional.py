"""Conditional reads: an ``ETag`` on every ``GET``, and ``304 Not Modified`` for a client
that already holds the representation (``If-None-Match``).

Computing the tag costs no render. For the reads of a contract's own objects it digests what
their representation depends on: the contract's change counter (``action_count``, raised by
every action under the contract lock, in the action's transaction), the sum of the
contributions' ages in whole days (scores decay by the day; see
:meth:`~backfeed_api.domain.ranking.VoteIndex.decay_epoch`), the deployment's settings and
version, the absolute URL with its query string, and the identity of the bearer token. The
counter is read before the view reads anything, so a body is never older than its tag. A
tag that matches ``If-None-Match`` is answered with a ``304`` and no body before the view
runs; the permission check has run by then, so a 304 tells no more than a 200 would. The
other reads (the login tokens of a user, which change without an action; the service and
its OpenAPI document, which list the contracts, made over HTTP without a restart; and any
route not in :data:`COUNTED`) are tagged with a digest of the body they render, and a match
is a 304 all the same.

Public reads (no ``Authorization`` header) are marked ``Cache-Control: no-cache``: a cache
may keep them, and must ask again (``If-None-Match``) before each use. Private ones stay
``no-store`` (:mod:`.headers`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import select
from webob.etag import AnyETag

from .. import __version__
from ..models import ContractRow

READS = frozenset({"GET", "HEAD"})
COUNTED = frozenset(
    {
        "contract",
        "contract_versions",
        "users",
        "user",
        "user_history",
        "contributions",
        "contribution",
        "evaluations",
        "evaluation",
    }
)
"""The routes whose representation changes only with the contract's counter, the day ages of
its contributions, and the deployment."""


SECRET_SETTINGS = frozenset({"backfeed.dev_admin_token"})
"""Settings kept out of the deployment's digest: no answer depends on them."""


def _digest(*parts: object) -> str:
    """A strong entity tag: a quoted digest of ``parts``."""
    text = json.dumps([str(part) for part in parts])
    return '"' + hashlib.blake2b(text.encode(), digest_size=16).hexdigest() + '"'


def _identity_key(request) -> str:
    """What of the bearer token the answer may depend on: its role, user and stored id."""
    if "Authorization" not in request.headers:
        return ""
    identity = request.identity
    if identity is None:
        return "none"
    return f"{identity.role}:{identity.user_id}:{identity.token_id}"


def counted_tag(request) -> str:
    """The tag of a read of :data:`COUNTED`, from the state it depends on, without
    rendering it."""
    parts: list[object] = [
        request.registry["deployment_tag"],
        request.application_url,
        request.path_qs,
        _identity_key(request),
    ]
    if "contract" in (request.matchdict or {}):
        contract = request.contract
        counter, version = request.dbsession.execute(
            select(ContractRow.action_count, ContractRow.version).where(
                ContractRow.id == contract.row_id
            )
        ).one()
        # the read renders with the parameters of the version in force, even one made by
        # another process since this one last acted (``rules`` are then the newest seen)
        contract.rules_at(request.dbsession, version)
        parts += [
            contract.name,
            counter,
            contract.votes.decay_epoch(request.dbsession, request.now),
        ]
    return _digest(*parts)


def not_modified(tag: str, public: bool) -> Response:
    """A ``304`` with the tag, and no body."""
    response = Response(status=304)
    response.etag = tag.strip('"')
    if public:
        response.cache_control = "no-cache"
    return response


def conditional_view(view: Callable, info) -> Callable:
    """The view deriver: tag every read, answer a matching ``If-None-Match`` with a 304."""
    methods = info.options.get("request_method")
    methods = {methods} if isinstance(methods, str) else set(methods or ())
    if info.exception_only or not methods & READS:
        return view
    route = info.options.get("route_name")

    def wrapped(context, request):
        if request.method not in READS:
            return view(context, request)
        public = "Authorization" not in request.headers
        held = request.if_none_match
        tag = counted_tag(request) if route in COUNTED else None
        # "*" is any tag: only an answer that would be a 200 may become a 304, so the view
        # runs first (a request its validation refuses must hear so)
        if tag is not None and held is not AnyETag and tag.strip('"') in held:
            return not_modified(tag, public)
        response = view(context, request)
        if response.status_code != 200:
            return response
        if tag is None:
            tag = _digest(_identity_key(request), response.body)
        if tag.strip('"') in held:
            return not_modified(tag, public)
        response.etag = tag.strip('"')
        if public:
            response.cache_control = "no-cache"
        return response

    return wrapped


def includeme(config: Configurator) -> None:
    """Tag every read after the permission check; digest the deployment once."""
    settings = config.get_settings()
    shaping = sorted(
        (key, value)
        for key, value in settings.items()
        if key.startswith("backfeed.") and key not in SECRET_SETTINGS
    )
    config.registry["deployment_tag"] = _digest(__version__, shaping)
    config.add_view_deriver(conditional_view)
