"""``/{contract}/dashboard`` and ``/{contract}/dashboard/users/{id}``: HTML pages.

The pages themselves hold no figure: their script reads the API with the visitor's read
token when the deployment wants one, so they are served to anyone.
"""

from __future__ import annotations

from cornice import Service

from ...auth.policy import PUBLIC
from ...domain.leaderboard import METRICS
from ...domain.periods import PERIOD_NAMES
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
    """What a page's template needs, with the page's security policy set."""
    request.response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    contract = request.contract.name
    return {
        "page": name,
        "title": title,
        "contract": contract,
        "api": request.route_url("contract", contract=contract),
        "dashboard": request.route_url("dashboard", contract=contract),
        "needs_token": not PUBLIC_READS.read(request.registry.settings),
        "poll": POLL_SECONDS,
        "user_id": user_id,
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
    contributions, its leaderboard and the Lorenz curve of its reputation, read again every
    few seconds."""
    return page(request, "contract", "Dashboard")


@dashboard_user.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=PUBLIC,
    renderer=TEMPLATES + "user.jinja2",
    response_schemas={"200": answer("The dashboard's HTML page of a user.")},
)
def get_dashboard_user(request) -> dict:
    """A user's balances, their course over time and its ledger with the causes."""
    user_id = path_id(request)
    return page(request, "user", f"User {user_id}", user_id)
