"""``/{contract}/replays``: what-if replays of the contract's history, run as jobs (admin only).

A job's report shows every user's balance, actual and under other rules, so only the
contract's admin tokens may ask for one or read one.
"""

from __future__ import annotations

from cornice import Service
from pyramid.response import Response

from ...auth.policy import ADMIN_ONLY
from ...domain import replay_jobs as domain
from ...errors import not_found
from ...models import ReplayJob
from ..presenters import collection, replay_job
from ..responses import answer, refusal
from ..schemas import CreateReplay, ListPage, ReadOne
from ..validation import validate
from .common import body, path_id, query

replays = Service(
    name="replays",
    path="/{contract}/replays",
    description="What-if replays of the contract's history under other parameters.",
)
one_replay = Service(name="replay", path="/{contract}/replays/{id}", description="One replay.")
replay_users = Service(
    name="replay_users",
    path="/{contract}/replays/{id}/users.csv",
    description="Every user's balances, actual and what-if, of a replay that is done (CSV).",
)
replay_plot = Service(
    name="replay_plot",
    path="/{contract}/replays/{id}/plot.png",
    description="The Lorenz curves and the users of a replay that is done (PNG).",
)


def _present(request, row: ReplayJob) -> dict:
    def url(route: str) -> str:
        return request.route_url(route, contract=request.contract.name, id=row.id)

    links = {"users_csv": url("replay_users"), "plot": url("replay_plot")}
    return replay_job(row, url("replay"), links)


def _found(request) -> ReplayJob:
    found = domain.find_job(request.dbsession, request.contract, path_id(request), request.now)
    if found is None:
        raise not_found("replay")
    return found


def _output(request, content: bytes | None, content_type: str) -> Response:
    """A done replay's CSV or plot; a 404 until it is done."""
    if content is None:
        raise not_found("replay output (it is not done)")
    charset = "utf-8" if content_type.startswith("text/") else None
    return Response(body=content, content_type=content_type, charset=charset)


@replays.post(
    schema=CreateReplay(),
    validators=(validate,),
    content_type="application/json",
    permission=ADMIN_ONLY,
    response_schemas={
        "202": answer("The replay, queued; poll its url.", "Replay", ("Location",)),
        "409": refusal(
            "Or as many replays of the contract are queued or running as the deployment "
            "allows (replay_queue_full)."
        ),
    },
)
def create_replay(request) -> dict:
    """Queue a replay of the contract's whole history under its parameters with
    ``parameters`` on top (``{}``: as they are), checked as ``backfeed replay --override``
    checks them. The worker runs it from one consistent snapshot; poll the answer's
    ``url`` until ``status`` is ``done`` or ``failed``. Admin only: the report shows every
    user's balance."""
    job = domain.create_job(
        request.dbsession,
        request.contract,
        request.now,
        body(request)["parameters"],
        request.registry["replay_settings"],
    )
    document = _present(request, job)
    request.response.status_code = 202
    request.response.location = document["url"]
    return document


@replays.get(
    schema=ListPage(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("A page of replays, newest first.", "ReplayPage")},
)
def get_replays(request) -> dict:
    """The contract's replays that have not expired, newest first. Admin only."""
    q = query(request)
    page = domain.list_jobs(
        request.dbsession, request.contract, request.now, q["start"], q["limit"]
    )
    items = [_present(request, row) for row in page.items]
    return collection(items, page.total, q["limit"], q["start"])


@one_replay.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("The replay: its status, progress and report.", "Replay")},
)
def get_replay(request) -> dict:
    """One replay: ``status`` (``queued``, ``running``, ``done`` or ``failed``),
    ``progress`` from 0 to 1, and once done the ``result``: the totals and Gini
    coefficients actual and what-if, the users who gain and lose most, the actions the
    rules refused, and the ``links`` to the CSV and the plot; a failed one has an
    ``error``. A replay that ended is kept until ``expires_at`` (null until it ends), then
    it is a 404. Admin only."""
    return _present(request, _found(request))


@replay_users.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={
        "200": answer(
            "user,actual_reputation,what_if_reputation,actual_tokens,what_if_tokens: one row "
            "per user, in the order they joined.",
            media_type="text/csv",
        ),
        "404": refusal("Or the replay is not done."),
    },
)
def get_replay_users(request) -> Response:
    """Every user's balances, actual and what-if, as CSV (``text/csv``), once the replay
    is done. Admin only."""
    return _output(request, _found(request).users_csv, "text/csv")


@replay_plot.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={
        "200": answer(
            "The Lorenz curves of reputation actual and what-if, and each user's what-if "
            "reputation against its actual one (PNG).",
            media_type="image/png",
        ),
        "404": refusal("Or the replay is not done."),
    },
)
def get_replay_plot(request) -> Response:
    """The plot of the replay as a PNG (``image/png``), once it is done. Admin only."""
    return _output(request, _found(request).plot_png, "image/png")
