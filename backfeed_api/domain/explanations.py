"""Storing and reading why each ledger entry is what it is (``protocol.explanations``).

An action writes one :class:`~backfeed_api.models.Explanation` row: the explanations of its
terms (rule, formulas, the inputs they share) and the configuration version it ran under.
Each of its ledger entries keeps a bit mask of the terms that made it and its own inputs
(JSON), so that a vote rewarding thousands of earlier voters writes its formulas once.
Reading an entry combines the two (:func:`explain`). An entry without a mask was written
before explanations existed, or by a plugin kind that gives no terms: its rule reads
``unexplained``, with no inputs and no formula.

The one input a stored row may leave out is the balance before the entry of a user's
share of a loss of every non-voter (:func:`protocol.explanations.share_of_loss`), which the
entry itself holds: its ``reputation`` less its ``reputation_delta``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from protocol.explanations import (
    BALANCE_BEFORE,
    LOSS_RULE,
    UNEXPLAINED,
    Explanation,
    combine,
    select_terms,
)

from ..models import Explanation as ExplanationRow
from ..models import LedgerEntry
from .ledger import Cause


def terms_json(explanations: Iterable[Explanation]) -> str:
    """An action's explanations as the JSON its row keeps."""
    return json.dumps([explanation.as_dict() for explanation in explanations])


def record(
    session: Session,
    contract_id: int,
    cause: Cause,
    explanations: Sequence[Explanation],
    version: int,
) -> None:
    """Write the explanation row of an action (one statement)."""
    session.execute(
        insert(ExplanationRow).values(
            contract_id=contract_id,
            cause_type=cause.type,
            cause_id=cause.id,
            config_version=version,
            terms=terms_json(explanations),
        )
    )


def explain(session: Session, contract_id: int, entries: Sequence[LedgerEntry]) -> list[dict]:
    """For each entry, its ``rule``, ``inputs``, ``formula`` and ``config_version``: one
    query for the explanations of all their causes."""
    causes = {(entry.cause_type, entry.cause_id) for entry in entries if entry.terms is not None}
    found: dict[tuple[str, int], tuple[int, list[Explanation]]] = {}
    if causes:
        rows = session.execute(
            select(ExplanationRow).where(
                ExplanationRow.contract_id == contract_id,
                tuple_(ExplanationRow.cause_type, ExplanationRow.cause_id).in_(causes),
            )
        ).scalars()
        for row in rows:
            terms = [Explanation(**item) for item in json.loads(row.terms)]
            found[(row.cause_type, row.cause_id)] = (row.config_version, terms)
    return [
        _explain_one(entry, found.get((entry.cause_type, entry.cause_id))) for entry in entries
    ]


def _explain_one(entry: LedgerEntry, found: tuple[int, list[Explanation]] | None) -> dict:
    """One entry's explanation from its cause's terms (None: unexplained)."""
    if not entry.terms or found is None:
        return unexplained()
    version, terms = found
    own = json.loads(entry.inputs) if entry.inputs else {}
    shares_loss = any(e.rule == LOSS_RULE for e in select_terms(terms, entry.terms))
    if shares_loss and entry.user_id is not None and BALANCE_BEFORE not in own:
        own[BALANCE_BEFORE] = entry.reputation - entry.reputation_delta
    return explanation_of(terms, entry.terms, own, version)


def unexplained() -> dict:
    """The explanation of an entry that has none."""
    return {"rule": UNEXPLAINED, "inputs": {}, "formula": {}, "config_version": None}


def explanation_of(
    terms: Sequence[Explanation], mask: int, own: dict[str, float], version: int
) -> dict:
    """The explanation of an entry made by the ``terms`` set in ``mask``, with its own
    inputs, under configuration ``version``."""
    if not mask:
        return unexplained()
    return {**combine(select_terms(terms, mask), own).as_dict(), "config_version": version}
