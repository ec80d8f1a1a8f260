"""``/{contract}/contributions``: create, list (by score or time), read."""

from __future__ import annotations

from cornice import Service

from ...auth.policy import READ, WRITE, acts_as
from ...domain import contributions as domain
from ...domain.listing import list_contributions
from ...errors import not_found
from ..outbox import ActionEvents
from ..paging import id_window, page
from ..presenters import Presenter, preview
from ..responses import answer
from ..schemas import CreateContribution, ListContributions, ReadOne
from ..validation import validate
from .common import JSON_AND_FORM, body, created, is_dry_run, path_id, query

contributions = Service(
    name="contributions",
    path="/{contract}/contributions",
    description="The contributions of a contract.",
)
contribution = Service(
    name="contribution", path="/{contract}/contributions/{id}", description="One contribution."
)


@contributions.post(
    schema=CreateContribution(),
    validators=(validate, acts_as("contributor_id")),
    content_type=JSON_AND_FORM,
    permission=WRITE,
    response_schemas={
        "201": answer("The created contribution.", "Contribution", ("Location",)),
        "200": answer(
            "A dry run: the would-be contribution and its fee's entry; nothing written.",
            "ContributionPreview",
        ),
    },
)
def create_contribution(request) -> dict:
    """The contributor pays the type's fee and the contribution is created.

    An admin token may name any contributor; a user token only its own user. With
    ``dry_run=true``: 200 with the would-be contribution and its fee's entry; nothing is
    written.
    """
    data = body(request)
    if is_dry_run(request):
        planned, contributor = domain.preview_contribution(
            request.dbsession,
            request.contract,
            request.now,
            contributor_id=data["contributor_id"],
            type_name=data.get("type"),
        )
        presenter = Presenter(request.dbsession, request.contract, request.now)
        return preview(presenter.new_contribution(planned.subject, contributor), planned.entries)
    new, changes = domain.create_contribution(
        request.dbsession,
        request.contract,
        request.now,
        contributor_id=data["contributor_id"],
        type_name=data.get("type"),
    )
    recorder = ActionEvents(request.dbsession, request.contract)
    rendered = recorder.contribution(request.now, new, changes)
    return created(request, "contribution", rendered, id=new.id)


@contributions.get(
    schema=ListContributions(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("A page of contributions.", "ContributionPage", ("Link",))},
)
def get_contributions(request) -> dict:
    """List contributions, best score first by default."""
    q = query(request)
    found = list_contributions(
        request.dbsession,
        request.contract,
        request.now,
        order_by=q["order_by"],
        start=q["start"],
        limit=q["limit"],
        contributor_id=q.get("contributor_id"),
        type_name=q.get("type"),
        window=id_window(q),
    )
    ranking = found.ranking  # when ranked by score, show the very sums it was ranked by
    presenter = Presenter(
        request.dbsession,
        request.contract,
        request.now,
        None if ranking is None else ranking.total_reputation,
    )
    items = presenter.contributions(found.items, None if ranking is None else ranking.voted)
    return page(request, items, found.total, q)


@contribution.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The contribution.", "Contribution")},
)
def get_contribution(request) -> dict:
    """One contribution with its stats."""
    found = domain.find_contribution(request.dbsession, request.contract, path_id(request))
    if found is None:
        raise not_found("contribution")
    return Presenter(request.dbsession, request.contract, request.now).contribution(found)
