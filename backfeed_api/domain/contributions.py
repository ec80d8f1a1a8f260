"""Creating and reading contributions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import BalanceChanges, UnknownContribution

from ..models import Contribution, User
from .bounds import within_bounds
from .catalog import ServedContract
from .events import Change, moved
from .explanations import record
from .ledger import Cause, Entries, apply_changes
from .locking import lock_contract, next_action
from .previews import Preview, planned_entries
from .users import require_user


def find_contribution(
    session: Session, contract: ServedContract, contribution_id: int
) -> Contribution | None:
    """The contribution ``contribution_id`` of this contract, or None."""
    return session.scalars(
        select(Contribution).where(
            Contribution.id == contribution_id, Contribution.contract_id == contract.row_id
        )
    ).one_or_none()


def unknown_contribution(contribution_id: int) -> UnknownContribution:
    """The error for a ``contribution_id`` that names no contribution of this contract."""
    return UnknownContribution(
        f"contribution_id {contribution_id} is not a contribution of this contract",
        "contribution_id",
    )


def _plan_contribution(
    session: Session, contract: ServedContract, contributor_id: int, type_name: str | None
):
    """Lock the contract and check a contribution as :func:`create_contribution` and
    :func:`preview_contribution` both need it: the type, the contract row, the
    contributor (who must afford the fee), the fee's changes and its explanation, by the
    rules of the version in force."""
    row = lock_contract(session, contract.row_id)
    rules = contract.rules_at(session, row.version)
    kind = rules.contribution_type(type_name)
    contributor = require_user(session, contract, contributor_id, "contributor_id")
    fee = rules.contribution_fee(kind, contributor.tokens)
    payment = BalanceChanges.combine([contributor.id], [0.0], [-fee])
    return kind, row, contributor, Entries.by_one(payment, 0), rules.fee_explanation(kind)


@within_bounds
def create_contribution(
    session: Session,
    contract: ServedContract,
    now: datetime,
    contributor_id: int,
    type_name: str | None = None,
) -> tuple[Contribution, list[Change]]:
    """The contributor pays the type's fee in tokens and the contribution opens. The
    contribution, and the balance it moved (the fee, if any)."""
    plan = _plan_contribution(session, contract, contributor_id, type_name)
    kind, row, contributor, fee, explanation = plan
    contribution = _new_contribution(contract, kind, contributor.id, now)
    contribution.seq = next_action(row)
    session.add(contribution)
    session.flush()
    row.contribution_count += 1
    cause = Cause("contribution", contribution.id)
    record(session, row.id, cause, [explanation], row.version)
    after = contributor.tokens + float(fee.changes.tokens[0])
    apply_changes(session, row, cause, fee, now)
    balances = {contributor.id: (contributor.reputation, after)}
    return contribution, moved(fee.changes, balances, row.reputation_scale)


def _new_contribution(contract: ServedContract, kind, contributor_id: int, now: datetime):
    """A contribution of type ``kind``, not yet stored."""
    return Contribution(
        contract_id=contract.row_id,
        contributor_id=contributor_id,
        type=kind.name,
        max_score=0.0,
        token_fund=kind.token_fund_for_evaluators,
        created_at=now,
    )


def preview_contribution(
    session: Session,
    contract: ServedContract,
    now: datetime,
    contributor_id: int,
    type_name: str | None = None,
) -> tuple[Preview, User]:
    """What :func:`create_contribution` would do, writing nothing: the contribution
    without an id and the fee's entry, and the contributor as it would be after."""
    plan = _plan_contribution(session, contract, contributor_id, type_name)
    kind, row, contributor, fee, explanation = plan
    entries = planned_entries("contribution", fee, [explanation], row.version)
    after = User(
        id=contributor.id,
        contract_id=contributor.contract_id,
        reputation=contributor.reputation,
        reputation_scale=contributor.reputation_scale,
        tokens=contributor.tokens + float(fee.changes.tokens[0]),
        referrer_id=contributor.referrer_id,
        created_at=contributor.created_at,
    )
    return Preview(_new_contribution(contract, kind, contributor.id, now), entries), after
