"""Writing a vote: the new evaluation, the balance changes with their ledger entries, the
contribution's and the contract's new values, all computed beforehand.

On PostgreSQL, when no rule touches the non-voters, everything is one statement (data-
modifying CTEs): the contract lock is then held for four round trips in all (lock, read the
contribution, read the voters, write) before the commit. Otherwise (SQLite, or the
non-voters' loss of ``whitepaper1``, :mod:`.losses`) the same writes go one statement after
the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, insert, literal, select, true, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from protocol.explanations import Explanation

from ..models import ContractRow, Contribution, Evaluation, User, dialect_of
from ..models import Explanation as ExplanationRow
from .explanations import record, terms_json
from .ledger import (
    Cause,
    Entries,
    balance_parameters,
    changed_balances,
    expire_users,
    ledger_entries,
    ledger_parameters,
    write_changes,
)
from .losses import NonVoterLoss, write_loss
from .scale import Scale

USERS = User.__table__
EVALUATIONS = Evaluation.__table__
CONTRIBUTIONS = Contribution.__table__
CONTRACTS = ContractRow.__table__
EXPLANATIONS = ExplanationRow.__table__
EVALUATION_COLUMNS = (
    "contract_id",
    "contribution_id",
    "evaluator_id",
    "value",
    "active",
    "seq",
    "created_at",
    "superseded_at",
)
CONTRACT_VALUES = ("total_reputation", "total_tokens", "evaluation_count", "action_count")
CONTRIBUTION_VALUES = ("max_score", "token_fund")


@dataclass(frozen=True)
class VoteWrite:
    """Everything a recorded vote changes.

    ``replaced_id`` is the evaluator's previous active vote on the contribution, if any;
    ``entries`` its balance changes with what explains each, ``explanations`` the terms'
    explanations (then the loss's and its shares', see ``evaluations.vote_explanations``)
    and ``version`` the configuration version in force;
    ``loss`` what it takes from every user without an active vote on it (``whitepaper1``);
    ``scale`` is the contract's scale before the vote; ``contract_values`` and
    ``contribution_values`` are the rows' new column values; ``watched`` are the users
    (evaluator, contributor: one or two) whose balances after the vote the answer shows.
    """

    evaluation: dict[str, Any]
    replaced_id: int | None
    entries: Entries
    explanations: list[Explanation]
    version: int
    loss: NonVoterLoss | None
    scale: Scale
    contract_values: dict[str, Any]
    contribution_values: dict[str, Any]
    watched: tuple[int, ...]


@dataclass(frozen=True)
class StoredVote:
    """The new evaluation's id, the balances (reputation as stored) after the vote of every
    user whose balances it changed and of the watched users, and the contract's scale after
    it."""

    evaluation_id: int
    balances: dict[int, tuple[float, float]]
    scale: Scale


def store_vote(session: Session, write: VoteWrite, now: datetime) -> StoredVote:
    """Apply ``write`` in the current transaction (the caller holds the contract lock)."""
    if write.replaced_id is not None:  # before the insert: one active vote per user
        session.execute(
            update(EVALUATIONS)
            .where(EVALUATIONS.c.id == write.replaced_id)
            .values(active=False, superseded_at=now)
        )
    one_statement = dialect_of(session).writes_in_one_statement
    if one_statement and write.loss is None and len(write.entries):
        stored = _in_one_statement(session, write, now)
    else:
        stored = _step_by_step(session, write, now)
    mark_changed(session)
    expire_users(session)
    return stored


def _in_one_statement(session: Session, write: VoteWrite, now: datetime) -> StoredVote:
    """PostgreSQL: insert the vote, change the balances, write the ledger and the two rows in
    one statement; the changed users' new balances come back with the vote's id."""
    rows = session.execute(
        _vote_statement(),
        {
            **balance_parameters(write.entries, write.scale.value),
            "explanation_version": write.version,
            "explanation_terms": terms_json(write.explanations),
            **ledger_parameters(write.evaluation["contract_id"], "evaluation", now),
            **{f"vote_{key}": value for key, value in write.evaluation.items()},
            **{f"contract_{key}": value for key, value in write.contract_values.items()},
            **{f"contribution_{k}": value for k, value in write.contribution_values.items()},
        },
    ).all()
    balances = {
        row.user_id: (row.reputation, row.tokens) for row in rows if row.user_id is not None
    }
    return StoredVote(rows[0].evaluation_id, balances, write.scale)


@cache
def _vote_statement():
    """The statement of :func:`_in_one_statement`, built once: SQLAlchemy then reuses its
    compiled form without walking it again. Its parameters are those of
    :func:`.ledger.changed_balances` and :func:`.ledger.ledger_entries`, ``vote_*`` for the
    evaluation's columns, ``contract_*`` and ``contribution_*`` for the rows' new values.
    The changed users' new balances come back, one row each, with the vote's id.
    """
    new_vote = (
        insert(EVALUATIONS)
        .values({key: bindparam(f"vote_{key}") for key in EVALUATION_COLUMNS})
        .returning(EVALUATIONS.c.id)
        .cte("new_vote")
    )
    changed = changed_balances()
    vote_id = select(new_vote.c.id).scalar_subquery()
    entries = ledger_entries(changed, vote_id).cte("entries")
    explanation = insert(EXPLANATIONS).from_select(
        ["contract_id", "cause_type", "cause_id", "config_version", "terms"],
        select(
            bindparam("vote_contract_id"),
            literal("evaluation"),
            vote_id,
            bindparam("explanation_version", type_=BigInteger),
            bindparam("explanation_terms", type_=Text),
        ),
    )
    contribution = (
        update(CONTRIBUTIONS)
        .where(CONTRIBUTIONS.c.id == bindparam("vote_contribution_id"))
        .values({key: bindparam(f"contribution_{key}") for key in CONTRIBUTION_VALUES})
        .cte("contribution_update")
    )
    contract = (
        update(CONTRACTS)
        .where(CONTRACTS.c.id == bindparam("vote_contract_id"))
        .values({key: bindparam(f"contract_{key}") for key in CONTRACT_VALUES})
        .cte("contract_update")
    )
    return (
        select(
            new_vote.c.id.label("evaluation_id"),
            changed.c.id.label("user_id"),
            changed.c.reputation,
            changed.c.tokens,
        )
        .select_from(new_vote.outerjoin(changed, true()))
        .add_cte(entries, explanation.cte("explanation"), contribution, contract)
    )


def _step_by_step(session: Session, write: VoteWrite, now: datetime) -> StoredVote:
    """Any database and any rule: one statement per kind of change."""
    contract_id = write.evaluation["contract_id"]
    evaluation_id = session.execute(
        insert(EVALUATIONS).values(write.evaluation).returning(EVALUATIONS.c.id)
    ).scalar_one()
    cause = Cause("evaluation", evaluation_id)
    record(session, contract_id, cause, write.explanations, write.version)
    scale, contract_values = write.scale, write.contract_values
    if write.loss is None:
        write_changes(session, contract_id, cause, write.entries, now, scale=scale.value)
    else:
        scale = write_loss(session, contract_id, cause, write.loss, write.entries, scale, now)
        contract_values = {
            **contract_values,
            "reputation_scale": scale.value,
            "scale_exponent": scale.exponent,
        }
    session.execute(
        update(Contribution)
        .where(Contribution.id == write.evaluation["contribution_id"])
        .values(write.contribution_values)
    )
    session.execute(
        update(ContractRow).where(ContractRow.id == contract_id).values(contract_values)
    )
    balances = {
        row.id: (row.reputation, row.tokens)
        for row in session.execute(
            select(USERS.c.id, USERS.c.reputation, USERS.c.tokens).where(
                USERS.c.id.in_({*write.watched, *write.entries.changes.user_ids.tolist()})
            )
        )
    }
    return StoredVote(evaluation_id, balances, scale)
