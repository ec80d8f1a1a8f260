"""Writing a vote's loss of every non-voter of its contribution (``whitepaper1``).

A loss with a factor ``0 < f < 1`` is one collective ledger entry (no user; its factor and
its contribution): the contract's scale is multiplied by ``f`` (:mod:`.scale`), which takes
``f`` from every user at once, and the contribution's voters (the evaluator included), whom
the loss spares, have their stored reputation divided by ``f``, with an exemption row each
and a ledger entry for those whose balances the vote changes. A vote thus writes rows for
its voters, not for its community; each user's history derives its own share of the loss
from the collective entry (:mod:`.history`).

Any other factor writes one ledger entry per non-voter with reputation, as every such vote
did before collective losses: that is a loss of everything (``f = 0``: ``whitepaper1``
moves all the non-voters' reputation once the evaluator's reputation times the type's
factor reaches 1), which cannot be a factor of the scale, after which the non-voters have
nothing left to lose; or a factor above 1, which no shipped kind returns. A factor of 1 (a
loss too small for a double) changes no one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import BigInteger, and_, insert, literal, null, select, update
from sqlalchemy.orm import Session

from protocol import BalanceChanges

from ..models import Evaluation, LedgerEntry, User
from ..models.meta import UTCDateTime
from .ledger import LEDGER_COLUMNS, Cause, Entries, write_changes
from .scale import Scale


@dataclass(frozen=True)
class NonVoterLoss:
    """What a vote takes from the users without an active vote on its contribution.

    ``factor`` multiplies their reputation, ``delta`` (negative) is their summed change and
    ``remaining`` what they hold after it; ``spared`` are the users it does not apply to:
    the evaluator and the other voters of the contribution. ``position`` is that of the
    loss's explanation among the vote's; the explanation of each user's share follows it.
    """

    contribution_id: int
    factor: float
    delta: float
    remaining: float
    spared: np.ndarray
    position: int

    @property
    def mask(self) -> int:
        """The terms of the collective entry: the loss's explanation."""
        return 1 << self.position

    @property
    def share_mask(self) -> int:
        """The terms of a user's share of the loss."""
        return 1 << (self.position + 1)


def write_loss(
    session: Session,
    contract_id: int,
    cause: Cause,
    loss: NonVoterLoss,
    entries: Entries,
    scale: Scale,
    now: datetime,
) -> Scale:
    """Apply ``loss`` and the vote's other changes, ``entries`` (the caller holds the
    contract lock and has stored the vote); return the contract's scale after them."""
    if 0.0 < loss.factor < 1.0:
        return _collective(session, contract_id, cause, loss, entries, scale, now)
    if loss.factor != 1.0:
        _each_non_voter(session, contract_id, cause, loss, scale.value, now)
    write_changes(session, contract_id, cause, entries, now, scale=scale.value)
    return scale


def _collective(
    session: Session,
    contract_id: int,
    cause: Cause,
    loss: NonVoterLoss,
    entries: Entries,
    scale: Scale,
    now: datetime,
) -> Scale:
    """The loss as one ledger entry and a new scale; the spared voters' rows written."""
    changes = entries.changes
    after, rescale = scale.after_loss(loss.factor)
    if rescale != 1.0:  # exact: a power of two
        session.execute(
            update(User)
            .where(User.contract_id == contract_id, User.reputation != 0)
            .values(reputation=User.reputation * rescale),
            execution_options={"synchronize_session": False},
        )
    entry = session.execute(
        insert(LedgerEntry)
        .values(
            contract_id=contract_id,
            user_id=None,
            cause_type=cause.type,
            cause_id=cause.id,
            reputation_delta=loss.delta,
            tokens_delta=0.0,
            reputation=loss.remaining,
            tokens=0.0,
            created_at=now,
            factor=loss.factor,
            contribution_id=loss.contribution_id,
            scale=after.value,
            scale_exponent=after.exponent,
            terms=loss.mask,
        )
        .returning(LedgerEntry.id)
    ).scalar_one()
    spared = np.isin(changes.user_ids, loss.spared)
    write_changes(
        session,
        contract_id,
        cause,
        _spared_entries(loss.spared, entries),
        now,
        scale=after.value,
        carry=scale.since(after),  # undoes the factor, in the stored units after any rescale
        spared_by=entry,
    )
    write_changes(session, contract_id, cause, entries.subset(~spared), now, scale=after.value)
    return after


def _spared_entries(spared: np.ndarray, entries: Entries) -> Entries:
    """One entry per spared user, with its deltas and terms in ``entries`` (none when it
    has none)."""
    changes = entries.changes
    ids = np.unique(spared.astype(np.int64))
    reputation, tokens = np.zeros(ids.size), np.zeros(ids.size)
    masks = np.zeros(ids.size, dtype=np.int64)
    inputs: list[str | None] = [None] * ids.size
    position = np.searchsorted(ids, changes.user_ids)
    found = (position < ids.size) & (ids[np.minimum(position, ids.size - 1)] == changes.user_ids)
    reputation[position[found]] = changes.reputation[found]
    tokens[position[found]] = changes.tokens[found]
    masks[position[found]] = entries.masks[found]
    for at, index in zip(position[found].tolist(), np.flatnonzero(found).tolist(), strict=True):
        inputs[at] = entries.inputs[index]
    return Entries(BalanceChanges(ids, reputation, tokens), masks, inputs)


def non_voters(contract_id: int, contribution_id: int, evaluator_id: int | None = None):
    """The condition selecting the users of the contract with no active vote on the
    contribution, ``evaluator_id`` left out."""
    voted = select(Evaluation.evaluator_id).where(
        Evaluation.contribution_id == contribution_id, Evaluation.active
    )
    condition = and_(User.contract_id == contract_id, User.id.not_in(voted))
    return condition if evaluator_id is None else and_(condition, User.id != evaluator_id)


def _each_non_voter(
    session: Session,
    contract_id: int,
    cause: Cause,
    loss: NonVoterLoss,
    scale: float,
    now: datetime,
) -> None:
    """Multiply every non-voter's reputation by the factor, set-based, with a ledger entry
    each; the evaluator's own vote is already stored, so it is not a non-voter."""
    condition = and_(non_voters(contract_id, loss.contribution_id), User.reputation != 0)
    balance = User.reputation * scale
    session.execute(
        insert(LedgerEntry).from_select(
            LEDGER_COLUMNS,
            select(
                literal(contract_id, BigInteger),
                User.id,
                literal(cause.type),
                literal(cause.id, BigInteger),
                User.reputation * loss.factor * scale - balance,
                literal(0.0),
                User.reputation * loss.factor * scale,
                User.tokens,
                literal(now, UTCDateTime()),
                literal(loss.share_mask, BigInteger),
                null(),
            ).where(condition),
        )
    )
    session.execute(
        update(User).where(condition).values(reputation=User.reputation * loss.factor),
        execution_options={"synchronize_session": False},
    )
