"""``/{contract}/evaluations``: vote, list, read."""

from __future__ import annotations

from cornice import Service

from protocol import MAX_BALANCE

from ...auth.policy import READ, WRITE, acts_as, each_acts_as
from ...domain import evaluations as domain
from ...domain.batches import Ballot, evaluate_batch
from ...domain.listing import list_evaluations
from ...errors import not_found
from ...pipeline.ratelimits import charge_items
from ..outbox import ActionEvents
from ..paging import id_window, page
from ..presenters import Presenter, preview
from ..responses import answer, refusal
from ..schemas import CreateEvaluation, CreateEvaluationBatch, ListEvaluations, ReadOne
from ..validation import validate
from .common import JSON_AND_FORM, body, created, is_dry_run, path_id, query
from .errors import batch_validation_errors

# Declared before ``evaluation``, so that its route is matched before /evaluations/{id}.
batch = Service(
    name="evaluation_batch",
    path="/{contract}/evaluations/batch",
    description="Many votes at once, all applied or none.",
    error_handler=batch_validation_errors,
)
ALLOWANCES = refusal(
    "Or the evaluator has cast as many evaluations today (UTC) as a daily allowance of the "
    "contract permits (the error's `name`: evaluations_per_day or "
    "evaluations_per_contributor_per_day); `Retry-After` is the time left until midnight UTC."
)

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
        "429": ALLOWANCES,
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
    if dry_run:
        presenter = Presenter(
            request.dbsession, request.contract, request.now, outcome.total_reputation
        )
        return preview(presenter.vote(outcome), outcome.planned or [])
    rendered = ActionEvents(request.dbsession, request.contract).vote(request.now, outcome)
    if not outcome.created:
        return rendered
    return created(request, "evaluation", rendered, id=outcome.evaluation.id)


@batch.post(
    schema=CreateEvaluationBatch(),
    validators=(validate, each_acts_as("evaluations", "evaluator_id")),
    content_type="application/json",
    permission=WRITE,
    response_schemas={
        "201": answer("Every vote applied, in order: each as its single vote answers.", "Batch"),
        "200": answer("Every vote repeated an active one: nothing changed.", "Batch"),
        "400": refusal(
            "Or some votes were refused, each listed in `failed` by its index; none was applied."
        ),
        "403": refusal("Or an item names another evaluator than the user of the token."),
        "429": refusal("Or the batch's votes, counted one by one, pass the write limit."),
    },
)
def create_evaluation_batch(request) -> dict:
    """Vote many times in one transaction: every vote applied in order, or none, with the
    refused ones listed by index. 201 when any vote was recorded, 200 when all repeated.

    An admin token may vote as any evaluator; a user token only as its own user, in every
    item.
    """
    ballots = [Ballot(**item) for item in body(request)["evaluations"]]
    charge_items(request, len(ballots))  # a batch counts as its votes against the writes
    outcomes = evaluate_batch(request.dbsession, request.contract, request.now, ballots)
    recorder = ActionEvents(request.dbsession, request.contract)
    rendered = [recorder.vote(request.now, outcome) for outcome in outcomes]
    if any(outcome.created for outcome in outcomes):
        request.response.status_code = 201
    return {"evaluations": rendered}


@evaluations.get(
    schema=ListEvaluations(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("A page of evaluations.", "EvaluationPage", ("Link",))},
)
def get_evaluations(request) -> dict:
    """List votes, oldest first; superseded ones only with ``include_superseded``."""
    q = query(request)
    found = list_evaluations(
        request.dbsession,
        request.contract,
        start=q["start"],
        limit=q["limit"],
        contribution_id=q.get("contribution_id"),
        evaluator_id=q.get("evaluator_id"),
        value=q.get("value"),
        include_superseded=q["include_superseded"],
        window=id_window(q),
    )
    items = Presenter(request.dbsession, request.contract, request.now).evaluations(found.items)
    return page(request, items, found.total, q)


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
