"""Batches of votes, applied all or none.

Every vote of a batch is applied in order in the request's transaction, as it would be on
its own. A vote the contract refuses is refused before it writes anything, so the votes
after it are still tried, on the contract as the votes before it left it, and the refusal
lists every failing vote at once. Any refusal then refuses the whole batch
(:class:`BatchRefused`): the request's transaction is aborted and takes the votes that were
applied with it. The first vote takes the contract lock and the transaction holds it to the
end, so no other write of the contract comes in between.

No savepoint is needed, nor taken: on PostgreSQL every savepoint that writes is a
subtransaction until the commit, and past 64 of them in one transaction every other
session's snapshot checks slow down. The one refusal that comes after writing, the
database's own guard of the balance limit (:class:`~.bounds.StoredBalanceRefused`), leaves
a transaction that takes no further statement: the batch stops there, that vote listed as
refused and the later ones unchecked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from protocol import ProtocolError

from .bounds import StoredBalanceRefused
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
        except StoredBalanceRefused as refusal:
            failures.append((index, refusal))
            break
        except ProtocolError as refusal:
            failures.append((index, refusal))
    if failures:
        raise BatchRefused(failures, len(ballots))
    return outcomes
