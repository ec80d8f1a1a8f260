"""Batches of votes, applied all or none.

Every vote of a batch is applied in order in the request's transaction, as it would be on
its own, each inside a savepoint: a vote the contract refuses leaves nothing behind, and the
votes after it are still tried, so that the refusal lists every failing vote at once. Any
refusal then refuses the whole batch (:class:`BatchRefused`), and the request's transaction,
aborted, takes the votes that succeeded with it. The first vote takes the contract lock and
the transaction holds it to the end: no other write of the contract comes in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from protocol import ProtocolError

from .catalog import ServedContract
from .evaluations import VoteOutcome, evaluate


@dataclass(frozen=True)
class Ballot:
    """One vote of a batch."""

    evaluator_id: int
    contribution_id: int
    value: float


class BatchRefused(Exception):
    """Some votes of a batch were refused, so none was applied: ``failures`` holds each
    refused vote's position in the batch and the contract's refusal."""

    def __init__(self, failures: list[tuple[int, ProtocolError]], size: int) -> None:
        super().__init__(f"{len(failures)} of the {size} evaluations were refused")
        self.failures = failures
        self.size = size


def evaluate_batch(
    session: Session, contract: ServedContract, now: datetime, ballots: Sequence[Ballot]
) -> list[VoteOutcome]:
    """Apply every vote in order, as :func:`~.evaluations.evaluate` does, or none: raise
    :class:`BatchRefused` listing every refused one. A repeated vote is answered as alone."""
    outcomes, failures = [], []
    for index, ballot in enumerate(ballots):
        try:
            with session.begin_nested():
                outcomes.append(
                    evaluate(
                        session,
                        contract,
                        now,
                        evaluator_id=ballot.evaluator_id,
                        contribution_id=ballot.contribution_id,
                        value=ballot.value,
                    )
                )
        except ProtocolError as refusal:
            failures.append((index, refusal))
    if failures:
        raise BatchRefused(failures, len(ballots))
    return outcomes
