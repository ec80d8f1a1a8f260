"""``/{contract}/evaluations``: vote, list, read."""

from __future__ import annotations

from cornice import Service

from protocol import MAX_BALANCE

from ...auth.policy import READ, WRITE, acts_as
from ...domain import evaluations as domain
from ...domain.listing import list_evaluations
from ...errors import not_found
from ..presenters import Presenter, collection, preview
from ..responses import answer, refusal
from ..schemas import CreateEvaluation, ListEvaluations, ReadOne
from ..validation import validate
from .common import JSON_AND_FORM, body, created, is_dry_run, path_id, query

evaluations = Service(
    name="evaluations", path="/{contract}/evaluations", description="The votes of a contract."
)
evaluation = Service(
    name="evaluation", path="/{contract}/evaluations/{id}", description="One vote."
)


@evaluations.post(
    schema=CreateEvaluation(),
    validators=(validate, acts_as("evaluator_id")),
    content_type=JSON_AND_FORM,
    permission=WRITE,
    response_schemas={
        "201": answer("The new vote.", "Evaluation", ("Location",)),
        "200": answer(
            "The same vote again: the evaluation that stands, unchanged; or a dry run: the "
            "would-be evaluation (its id null), dry_run and its entries; nothing written.",
            "EvaluationAnswer",
        ),
        "403": refusal(
            "Or the evaluator is the contribution's contributor, in a contract whose "
            "allow_self_evaluation is false."
        ),
        "409": refusal(
            "Or the evaluator has changed its value on this contribution as many times as "
            "the contract's max_vote_changes allows, or the vote would carry a balance, a "
            f"fund or a total above {MAX_BALANCE:g}."
        ),
    },
)
def create_evaluation(request) -> dict:
    """Vote. Repeating one's active vote changes nothing and answers 200 with it.

    An admin token may vote as any evaluator; a user token only as its own user. With
    ``dry_run=true``: 200 with the would-be evaluation and the entries it would write,
    explained (none for a repeat); nothing is written.
    """
    data = body(request)
    dry_run = is_dry_run(request)
    outcome = domain.evaluate(
        request.dbsession,
        request.contract,
        request.now,
        evaluator_id=data["evaluator_id"],
        contribution_id=data["contribution_id"],
        value=data["value"],
        dry_run=dry_run,
    )
    presenter = Presenter(
        request.dbsession, request.contract, request.now, outcome.total_reputation
    )
    rendered = presenter.vote(outcome)
    if dry_run:
        return preview(rendered, outcome.planned or [])
    if not outcome.created:
        return rendered
    return created(request, "evaluation", rendered, id=outcome.evaluation.id)


@evaluations.get(
    schema=ListEvaluations(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("A page of evaluations.", "EvaluationPage")},
)
def get_evaluations(request) -> dict:
    """List votes, oldest first; superseded ones only with ``include_superseded``."""
    q = query(request)
    page = list_evaluations(
        request.dbsession,
        request.contract,
        start=q["start"],
        limit=q["limit"],
        contribution_id=q.get("contribution_id"),
        evaluator_id=q.get("evaluator_id"),
        value=q.get("value"),
        include_superseded=q["include_superseded"],
    )
    items = Presenter(request.dbsession, request.contract, request.now).evaluations(page.items)
    return collection(items, page.total, q["limit"], q["start"])


@evaluation.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The evaluation.", "Evaluation")},
)
def get_evaluation(request) -> dict:
    """One vote, superseded or not."""
    found = domain.find_evaluation(request.dbsession, request.contract, path_id(request))
    if found is None:
        raise not_found("evaluation")
    return Presenter(request.dbsession, request.contract, request.now).evaluation(found)
