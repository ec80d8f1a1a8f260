"""``/{contract}/dashboard`` and ``/{contract}/dashboard/users/{id}``: HTML pages.

The pages themselves hold no figure: their script reads the API with the visitor's read
token when the deployment wants one, so they are served to anyone.
"""

from __future__ import annotations

from cornice import Service
from pyramid.renderers import render_to_response
from pyramid.response import Response

from ...auth.policy import PUBLIC, READ
from ...domain.events import latest_event_id
from ...domain.leaderboard import METRICS
from ...domain.periods import PERIOD_NAMES
from ...domain.users import find_user
from ...errors import NotFound
from ...settings import PUBLIC_READS
from ..dashboard import CONTENT_SECURITY_POLICY, POLL_SECONDS, asset_url
from ..responses import answer
from ..schemas import ReadOne
from ..validation import validate
from .common import path_id

TEMPLATES = "backfeed_api.api.dashboard:templates/"

dashboard = Service(
    name="dashboard",
    path="/{contract}/dashboard",
    description="The contract's dashboard: an HTML page for the people who run it.",
)
dashboard_user = Service(
    name="dashboard_user",
    path="/{contract}/dashboard/users/{id}",
    description="One user's page of the dashboard: balances over time and the ledger.",
)


def page(request, name: str, title: str, user_id: int | None = None) -> dict:
    """What a page's template needs, with the page's security policy set.

    A visitor who may read the contract also gets the id of its newest event, which the
    page's script follows the feed after; without it, the script finds that id itself.
    """
    request.response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    contract = request.contract.name
    may_read = request.has_permission(READ, request.context)
    return {
        "page": name,
        "title": title,
        "contract": contract,
        "api": request.route_url("contract", contract=contract),
        "dashboard": request.route_url("dashboard", contract=contract),
        "needs_token": not PUBLIC_READS.read(request.registry.settings),
        "poll": POLL_SECONDS,
        "user_id": user_id,
        "newest_event": (
            latest_event_id(request.dbsession, request.contract.row_id) if may_read else None
        ),
        "periods": PERIOD_NAMES,
        "metrics": METRICS,
        "css": asset_url(request, "dashboard.css"),
        "js": asset_url(request, "dashboard.js"),
        "icon": asset_url(request, "favicon.svg"),
    }


@dashboard.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=PUBLIC,
    renderer=TEMPLATES + "dashboard.jinja2",
    response_schemas={"200": answer("The dashboard's HTML page of the contract.")},
)
def get_dashboard(request) -> dict:
    """The contract's totals and parameters, its pulse with a period switch, its top
    contributions, its leaderboard and the Lorenz curve of its reputation, read again after
    each event of the contract (the event feed's long-poll)."""
    return page(request, "contract", "Dashboard")


@dashboard_user.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=PUBLIC,
    renderer=TEMPLATES + "user.jinja2",
    response_schemas={
        "200": answer("The dashboard's HTML page of a user."),
        "404": answer(
            "No such user (or an id that is not one): the dashboard's HTML page saying so. "
            "With no such contract, the JSON error."
        ),
    },
)
def get_dashboard_user(request):
    """A user's balances, their course over time and its ledger with the causes.

    An id that is no user's is answered with a page saying so, status 404. When reads need
    a token, a visit without one (a browser's: the page's script holds the token) gets the
    page whatever the id, so that the pages tell no one without a token which users exist;
    its script then shows that the user is missing.
    """
    text = request.matchdict["id"]
    try:
        user_id = path_id(request)
    except NotFound:
        return missing_user(request, text)
    may_read = request.has_permission(READ, request.context)
    if may_read and find_user(request.dbsession, request.contract, user_id) is None:
        return missing_user(request, text)
    return page(request, "user", f"User {user_id}", user_id)


def missing_user(request, text: str) -> Response:
    """The page saying there is no user ``text`` in the contract, status 404."""
    values = {**page(request, "missing", "No such user"), "missing": text}
    response = render_to_response(TEMPLATES + "missing.jinja2", values, request)
    response.status_int = 404
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
