"""Creating and reading contributions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import BalanceChanges, InsufficientTokens, UnknownContribution

from ..models import Contribution
from .bounds import within_bounds
from .catalog import ServedContract
from .explanations import record
from .ledger import Cause, Entries, apply_changes
from .locking import lock_contract, next_action
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


@within_bounds
def create_contribution(
    session: Session,
    contract: ServedContract,
    now: datetime,
    contributor_id: int,
    type_name: str | None = None,
) -> Contribution:
    """The contributor pays the type's fee in tokens and the contribution opens."""
    kind = contract.rules.contribution_type(type_name)
    row = lock_contract(session, contract.row_id)
    contributor = require_user(session, contract, contributor_id, "contributor_id")
    if contributor.tokens < kind.fee:
        raise InsufficientTokens(
            f"the contributor has {contributor.tokens:g} tokens and a {kind.name} costs "
            f"{kind.fee:g}",
            "contributor_id",
        )
    contribution = Contribution(
        contract_id=contract.row_id,
        contributor_id=contributor.id,
        type=kind.name,
        max_score=0.0,
        token_fund=kind.token_fund_for_evaluators,
        seq=next_action(row),
        created_at=now,
    )
    session.add(contribution)
    session.flush()
    row.contribution_count += 1
    fee = BalanceChanges.combine([contributor.id], [0.0], [-kind.fee])
    cause = Cause("contribution", contribution.id)
    record(session, row.id, cause, [contract.rules.fee_explanation(kind)], row.version)
    apply_changes(session, row, cause, Entries.by_one(fee, 0), now)
    return contribution
