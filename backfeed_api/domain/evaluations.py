"""Voting: gather the engine's state with a constant number of queries, apply its effects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import (
    DateTime,
    Row,
    bindparam,
    func,
    literal_column,
    not_,
    null,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from protocol import (
    NO_USER,
    BalanceChanges,
    ContractRules,
    EvaluationEffects,
    EvaluationState,
    Party,
    UnknownUser,
    Voters,
)
from protocol.explanations import BALANCE_BEFORE, Explanation, share_of_loss

from ..models import Contribution, Evaluation, User, dialect_of
from .allowances import counts_allowances, evaluations_today
from .bounds import within_bounds
from .catalog import ServedContract
from .contributions import unknown_contribution
from .events import Change, moved
from .explanations import explanation_of
from .ledger import Entries
from .locking import lock_contract_row
from .losses import NonVoterLoss, non_voters
from .previews import PlannedEntry, planned_entries
from .scale import Scale
from .vote_store import StoredVote, VoteWrite, store_vote

USERS = User.__table__
EVALUATIONS = Evaluation.__table__
EPOCH = datetime(1970, 1, 1)
SECOND = timedelta(seconds=1)
PARTY_COLUMNS = (
    "id",
    "reputation",
    "tokens",
    "referrer_id",
    "created_at",
    "evaluation_id",
    "value",
)
"""The columns of :func:`_parties`, in order: a user's, then a vote's."""


@dataclass(frozen=True)
class VoteOutcome:
    """A vote as it stands after being applied, with what its answer shows.

    ``users`` holds the evaluator and the contributor with their balances after the vote,
    ``voted`` the reputation behind each value on the contribution after it and
    ``total_reputation`` the contract's total: all known without reading them back.
    ``changes`` are the balances a recorded vote moved (none for a repeat or a dry run). A
    dry run's outcome (nothing stored, the evaluation without an id) has the ``planned``
    entries.
    """

    evaluation: Evaluation
    created: bool
    contribution: Contribution
    users: dict[int, User]
    voted: dict[float, float]
    total_reputation: float
    changes: list[Change]
    planned: list[PlannedEntry] | None = None


def _party(row, scale: float) -> Party:
    """A user row of :func:`_parties` as the engine sees a single participant."""
    return Party(
        id=row.id,
        reputation=row.reputation * scale,
        tokens=row.tokens,
        referrer_id=NO_USER if row.referrer_id is None else row.referrer_id,
        created_at=row.created_at.replace(tzinfo=UTC).timestamp(),
    )


def _epoch_seconds(moments) -> np.ndarray:
    """Naive UTC datetimes as seconds since the epoch (the fastest exact conversion)."""
    return np.array([(moment - EPOCH) / SECOND for moment in moments], np.float64)


def _parties(
    session: Session,
    contract_id: int,
    contribution_id: int,
    evaluator_id: int,
    contributor_id: int | None,
):
    """In one query: every user with an active vote on the contribution (with the vote); the
    evaluator and the contributor (None: the contribution is unknown) if they are users of
    the contract, with no vote columns; and the evaluator's superseded votes on the
    contribution, one row per value with their number in place of an evaluation id and no
    user columns."""
    parameters = {
        "contract": contract_id,
        "contribution": contribution_id,
        "evaluator": evaluator_id,
        "contributor": evaluator_id if contributor_id is None else contributor_id,
    }
    lateral = dialect_of(session).lateral_joins
    return session.execute(_parties_statement(lateral), parameters).all()


@cache
def _parties_statement(lateral: bool):
    """The query of :func:`_parties`, built once per form (SQLAlchemy reuses its compiled
    form); ``lateral`` (PostgreSQL; SQLite has no ``LATERAL``) reads each voter by itself.

    Creation times come back naive (UTC), without the per-row time-zone conversion, since
    a contribution may have many thousands of voters.
    """
    user_columns = (
        USERS.c.id,
        USERS.c.reputation,
        USERS.c.tokens,
        USERS.c.referrer_id,
        type_coerce(USERS.c.created_at, DateTime()).label("created_at"),
    )
    # Each voter is read by its primary key (LIMIT 1 keeps PostgreSQL from turning the
    # lateral subquery into a join): a plan may otherwise hash-join the votes with a scan of
    # every user of the database, which a contribution with many voters, or the generic plan
    # of the prepared statement where contributions have many voters on average, gets.
    if lateral:
        voter = (
            select(*user_columns)
            .where(USERS.c.id == EVALUATIONS.c.evaluator_id)
            .limit(literal_column("1"))
            .lateral("voter")
        )
        source, voter_columns = EVALUATIONS.join(voter, true()), tuple(voter.c)
    else:
        source = EVALUATIONS.join(USERS, USERS.c.id == EVALUATIONS.c.evaluator_id)
        voter_columns = user_columns
    voters = (
        select(*voter_columns, EVALUATIONS.c.id.label("evaluation_id"), EVALUATIONS.c.value)
        .select_from(source)
        .where(EVALUATIONS.c.contribution_id == bindparam("contribution"), EVALUATIONS.c.active)
    )
    # Two plain parameters rather than an expanding list, which SQLAlchemy would render
    # into the SQL text anew at every execution.
    named = (bindparam("evaluator"), bindparam("contributor"))
    others = select(*user_columns, null().label("evaluation_id"), null().label("value")).where(
        USERS.c.id.in_(named),
        USERS.c.contract_id == bindparam("contract"),
    )
    # At most one row per value of the evaluation set, found by the contribution and
    # evaluator index whatever the number of voters.
    superseded = (
        select(
            EVALUATIONS.c.evaluator_id,
            *(null() for _ in user_columns[1:]),
            func.count().label("evaluation_id"),
            EVALUATIONS.c.value,
        )
        .where(
            EVALUATIONS.c.contribution_id == bindparam("contribution"),
            EVALUATIONS.c.evaluator_id == bindparam("evaluator"),
            not_(EVALUATIONS.c.active),
        )
        .group_by(EVALUATIONS.c.evaluator_id, EVALUATIONS.c.value)
    )
    return union_all(voters, others, superseded)


@cache
def _contribution_statement():
    """The contribution of a vote, read after the lock (its score and fund are current)."""
    contributions = Contribution.__table__
    return select(contributions).where(
        contributions.c.id == bindparam("contribution"),
        contributions.c.contract_id == bindparam("contract"),
    )


@dataclass(frozen=True)
class _Parties:
    """The rows of :func:`_parties`, sorted: the named users by id, the evaluator's active
    vote (or None), the other voters' rows, and the number of the evaluator's superseded
    votes by value."""

    named: dict[int, Any]
    own: Any
    others: list[Any]
    superseded: dict[float, int]


def _split_parties(rows, evaluator_id: int) -> _Parties:
    """Sort the rows of :func:`_parties` by what they are."""
    named, own, others, superseded = {}, None, [], {}
    for row in rows:
        if row.evaluation_id is None:  # no evaluation: a named user
            named[row.id] = row
        elif row.reputation is None:  # no user columns: superseded votes of one value
            superseded[row.value] = row.evaluation_id
        elif row.id == evaluator_id:
            own = row
        else:
            others.append(row)
    return _Parties(named, own, others, superseded)


def _columns(rows: list[Any]) -> dict[str, tuple]:
    """Rows of :func:`_parties` as columns, by name (each empty without rows)."""
    columns = zip(*rows, strict=True) if rows else [()] * len(PARTY_COLUMNS)
    return dict(zip(PARTY_COLUMNS, columns, strict=True))


def _sum_by_value(values: np.ndarray, reputations: np.ndarray) -> dict[float, float]:
    """The reputation behind each voted value."""
    distinct, position = np.unique(values, return_inverse=True)
    sums = np.bincount(position, weights=reputations, minlength=distinct.shape[0])
    return dict(zip(distinct.tolist(), sums.tolist(), strict=True))


def _after(ids: np.ndarray, reputations: np.ndarray, changes: BalanceChanges) -> np.ndarray:
    """The reputations of ``ids`` once ``changes`` (sorted, unique ids) are applied."""
    if not len(changes):
        return reputations
    position = np.minimum(np.searchsorted(changes.user_ids, ids), len(changes) - 1)
    found = changes.user_ids[position] == ids
    return reputations + np.where(found, changes.reputation[position], 0.0)


@dataclass(frozen=True)
class _Ballot:
    """What a vote reads under the contract lock: the rows it changes (contract and
    contribution), the evaluator's and the contributor's rows (``named``), the evaluator's
    active vote, the engine's state and the rules of the version in force."""

    contract: Row
    contribution: Row
    named: dict[int, Any]
    own: Any
    state: EvaluationState
    rules: ContractRules


@within_bounds
def evaluate(
    session: Session,
    contract: ServedContract,
    now: datetime,
    evaluator_id: int,
    contribution_id: int,
    value: float,
    *,
    dry_run: bool = False,
) -> VoteOutcome:
    """Record a vote and apply its rewards and fees. A repeat of the active vote creates
    nothing and changes nothing (``created`` false). With ``dry_run``, the vote is checked
    and computed alike and nothing is written (:mod:`.previews`).

    A constant number of statements whatever the number of users and earlier voters: lock
    the contract, read the contribution, read every party in one query, write (one
    statement on PostgreSQL, see :mod:`.vote_store`).
    """
    ballot = _read_ballot(session, contract, now, evaluator_id, contribution_id, value)
    state = ballot.state
    effects = ballot.rules.vote(state)
    voted = _sum_by_value(
        np.append(state.voters.values, state.value),
        _after(
            np.append(state.voters.ids, state.evaluator.id),
            np.append(state.voters.reputations, state.evaluator.reputation),
            effects.changes,
        ),
    )
    if not effects.recorded:
        standing = session.get(Evaluation, ballot.own.evaluation_id)
        scale = ballot.contract.reputation_scale
        users = {user_id: _user(row, {}, scale) for user_id, row in ballot.named.items()}
        contribution = Contribution(**ballot.contribution._mapping)
        total = ballot.contract.total_reputation
        return VoteOutcome(standing, False, contribution, users, voted, total, [])
    if dry_run:
        return _preview(session, ballot, effects, voted, now)
    evaluation, contribution, total, stored = _record(session, ballot, effects, now)
    users = {
        user_id: _user(row, stored.balances, stored.scale.value)
        for user_id, row in ballot.named.items()
    }
    loss = _loss(contribution.id, state, effects)
    collective = None if loss is None else Change(None, loss.delta, 0.0, loss.remaining, 0.0)
    changes = moved(effects.changes, stored.balances, stored.scale.value, collective)
    return VoteOutcome(evaluation, True, contribution, users, voted, total, changes)


def _preview(
    session: Session,
    ballot: _Ballot,
    effects: EvaluationEffects,
    voted: dict[float, float],
    now: datetime,
) -> VoteOutcome:
    """The vote as :func:`_record` would store it, with the entries it would write, from
    what the ballot read: nothing is written."""
    row, state = ballot.contract, ballot.state
    entries = Entries.of(effects.changes, effects.terms)
    explanations = vote_explanations(effects)
    planned = planned_entries("evaluation", entries, explanations, row.version)
    loss = _loss(ballot.contribution.id, state, effects)
    if loss is not None and 0.0 < loss.factor < 1.0:
        planned.append(
            PlannedEntry(
                None,
                "evaluation",
                loss.delta,
                0.0,
                explanation_of(explanations, loss.mask, {}, row.version),
            )
        )
    elif loss is not None and loss.factor != 1.0:
        planned += _planned_shares(session, ballot, loss, explanations)
    evaluation = Evaluation(id=None, **_evaluation_values(ballot, now))
    contribution = Contribution(
        **{
            **ballot.contribution._mapping,
            "max_score": effects.max_score,
            "token_fund": effects.token_fund,
        }
    )
    users = _preview_users(ballot, effects.changes, loss)
    total = _contract_after(row, effects, new_voter=ballot.own is None)["total_reputation"]
    return VoteOutcome(evaluation, True, contribution, users, voted, total, [], planned)


def _read_ballot(
    session: Session,
    contract: ServedContract,
    now: datetime,
    evaluator_id: int,
    contribution_id: int,
    value: float,
) -> _Ballot:
    """Lock the contract and read everything the vote depends on; refuse a vote by or on
    what this contract does not have, or with a value its rules do not allow."""
    row = lock_contract_row(session, contract.row_id)
    rules = contract.rules_at(session, row.version)
    contribution = session.execute(
        _contribution_statement(), {"contract": row.id, "contribution": contribution_id}
    ).one_or_none()
    contributor_id = None if contribution is None else contribution.contributor_id
    parties = _split_parties(
        _parties(session, row.id, contribution_id, evaluator_id, contributor_id), evaluator_id
    )
    named, own, others = parties.named, parties.own, parties.others
    if evaluator_id not in named:
        raise UnknownUser(
            f"evaluator_id {evaluator_id} is not a user of this contract", "evaluator_id"
        )
    if contribution is None:
        raise unknown_contribution(contribution_id)
    contribution_type = rules.contribution_type(contribution.type)
    value = rules.check_value(contribution_type, value)
    columns = _columns(others)
    scale = row.reputation_scale
    evaluator = _party(named[evaluator_id], scale)
    today = (
        evaluations_today(session, row.id, evaluator_id, contribution.contributor_id, now)
        if counts_allowances(rules.params)
        else (0, 0)
    )
    voters = Voters.of(
        ids=columns["id"],
        reputations=np.asarray(columns["reputation"], np.float64) * scale,
        values=columns["value"],
        referrer_ids=[NO_USER if r is None else r for r in columns["referrer_id"]],
        created_at=_epoch_seconds(columns["created_at"]),
    )
    state = EvaluationState(
        contribution_type=contribution_type,
        max_score=contribution.max_score,
        token_fund=contribution.token_fund,
        evaluator=evaluator,
        contributor=_party(named[contribution.contributor_id], scale),
        value=value,
        previous_value=None if own is None else own.value,
        voters=voters,
        total_reputation=row.total_reputation,
        now=now.timestamp(),
        non_voter_reputation=(
            _non_voter_reputation(session, row, contribution.id, voters, evaluator)
            if rules.needs_non_voter_reputation
            else 0.0
        ),
        superseded_values=frozenset(parties.superseded),
        vote_changes=sum(parties.superseded.values()),
        total_tokens=row.total_tokens,
        evaluations_today=today[0],
        evaluations_today_on_contributor=today[1],
    )
    return _Ballot(row, contribution, named, own, state, rules)


ROUNDING = 2.0**-32
"""A share of the contract's total reputation below which its total less the voters' may be
rounding, not reputation."""


def _non_voter_reputation(
    session: Session, row: Row, contribution_id: int, voters: Voters, evaluator: Party
) -> float:
    """The reputation of the users with no active vote on the contribution, the evaluator
    left out: the contract's total less the voters', which the vote has read anyway, rather
    than a sum over the community. Where the voters hold all but a :data:`ROUNDING` share of
    the total, that difference may be rounding alone, so the users' own sum is read: non-
    voters with nothing left lose nothing."""
    total = row.total_reputation
    rest = total - float(voters.reputations.sum()) - evaluator.reputation
    if rest > ROUNDING * total:
        return rest
    stored = session.scalar(
        select(func.coalesce(func.sum(User.reputation), 0.0)).where(
            non_voters(row.id, contribution_id, evaluator.id)
        )
    )
    return float(stored) * row.reputation_scale


def _planned_shares(
    session: Session, ballot: _Ballot, loss: NonVoterLoss, explanations: list[Explanation]
) -> list[PlannedEntry]:
    """The entry of each non-voter with reputation that a loss of a factor outside (0, 1)
    would write (:mod:`.losses`: such a loss is an entry per non-voter, not a collective
    one)."""
    row, scale = ballot.contract, ballot.contract.reputation_scale
    holders = session.execute(
        select(User.id, User.reputation).where(
            non_voters(row.id, ballot.contribution.id, ballot.state.evaluator.id),
            User.reputation != 0,
        )
    )
    planned = []
    for user_id, reputation in holders:
        after = reputation * loss.factor * scale  # as the ledger computes it, to the bit
        delta = after - reputation * scale
        own = {BALANCE_BEFORE: after - delta}  # what the stored entry's explanation reads
        explanation = explanation_of(explanations, loss.share_mask, own, row.version)
        planned.append(PlannedEntry(user_id, "evaluation", delta, 0.0, explanation))
    return planned


def _preview_users(
    ballot: _Ballot, changes: BalanceChanges, loss: NonVoterLoss | None
) -> dict[int, User]:
    """The evaluator and the contributor with their balances after the vote, were it
    stored (a non-voter of a loss keeps its share ``factor`` of its reputation)."""
    scale = ballot.contract.reputation_scale
    users = {}
    for user_id, named in ballot.named.items():
        reputation = named.reputation * scale
        if loss is not None and user_id not in loss.spared:
            reputation *= loss.factor
        at = int(np.searchsorted(changes.user_ids, user_id))
        if at < len(changes) and changes.user_ids[at] == user_id:
            reputation += float(changes.reputation[at])
            tokens = named.tokens + float(changes.tokens[at])
        else:
            tokens = named.tokens
        users[user_id] = _user(named, {user_id: (reputation, tokens)}, 1.0)
    return users


def _evaluation_values(ballot: _Ballot, now: datetime) -> dict:
    """The columns of the vote's new evaluation."""
    return {
        "contract_id": ballot.contract.id,
        "contribution_id": ballot.contribution.id,
        "evaluator_id": ballot.state.evaluator.id,
        "value": ballot.state.value,
        "active": True,
        "seq": ballot.contract.action_count + 1,
        "created_at": now,
        "superseded_at": None,
    }


def _record(
    session: Session, ballot: _Ballot, effects: EvaluationEffects, now: datetime
) -> tuple[Evaluation, Contribution, float, StoredVote]:
    """Store the vote and its effects. Returns the new evaluation, the contribution and the
    contract's total reputation as they are now, and what storing it returned (the named
    users' balances that changed, the contract's scale)."""
    row, contribution, own, state = ballot.contract, ballot.contribution, ballot.own, ballot.state
    write = VoteWrite(
        evaluation=_evaluation_values(ballot, now),
        replaced_id=None if own is None else own.evaluation_id,
        entries=Entries.of(effects.changes, effects.terms),
        explanations=vote_explanations(effects),
        version=row.version,
        loss=_loss(contribution.id, state, effects),
        scale=Scale(row.reputation_scale, row.scale_exponent),
        contract_values=_contract_after(row, effects, new_voter=own is None),
        contribution_values={"max_score": effects.max_score, "token_fund": effects.token_fund},
        watched=tuple(ballot.named),
    )
    stored = store_vote(session, write, now)
    evaluation = Evaluation(id=stored.evaluation_id, **write.evaluation)
    contribution = Contribution(**{**contribution._mapping, **write.contribution_values})
    total = write.contract_values["total_reputation"]
    return evaluation, contribution, total, stored


def vote_explanations(effects: EvaluationEffects) -> list[Explanation]:
    """The explanations of a vote's entries: its terms', then, with a loss of every
    non-voter, the loss's (the collective entry's) and that of each user's share of it."""
    explanations = [term.explanation for term in effects.terms]
    if effects.loss is not None and effects.non_voter_factor is not None:
        explanations += [effects.loss, share_of_loss(effects.non_voter_factor)]
    return explanations


def _loss(
    contribution_id: int, state: EvaluationState, effects: EvaluationEffects
) -> NonVoterLoss | None:
    """The effects' loss of every non-voter of the contribution, if any; it spares the
    evaluator and the other voters."""
    if effects.non_voter_factor is None:
        return None
    return NonVoterLoss(
        contribution_id=contribution_id,
        factor=effects.non_voter_factor,
        delta=effects.non_voter_delta,
        remaining=state.non_voter_reputation + effects.non_voter_delta,
        spared=np.append(state.voters.ids, state.evaluator.id),
        position=len(effects.terms),
    )


def _contract_after(row: Row, effects: EvaluationEffects, *, new_voter: bool) -> dict:
    """The contract row's new totals and counters once the vote is applied."""
    total_reputation = row.total_reputation
    if effects.non_voter_factor is not None:
        total_reputation += effects.non_voter_delta
    total_reputation += float(np.sum(effects.changes.reputation))
    return {
        "total_reputation": total_reputation,
        "total_tokens": row.total_tokens + float(np.sum(effects.changes.tokens)),
        "evaluation_count": row.evaluation_count + int(new_voter),
        "action_count": row.action_count + 1,
    }


def _user(row, balances: dict[int, tuple[float, float]], scale: float) -> User:
    """A user of :func:`_parties` with its balances after the vote (unchanged when absent
    from ``balances``; reputation as stored, in units of the contract's ``scale`` after the
    vote), to be shown in the answer."""
    reputation, tokens = balances.get(row.id, (row.reputation, row.tokens))
    return User(
        id=row.id,
        reputation=reputation,
        reputation_scale=scale,
        tokens=tokens,
        referrer_id=row.referrer_id,
        created_at=row.created_at.replace(tzinfo=UTC),
    )


def find_evaluation(
    session: Session, contract: ServedContract, evaluation_id: int
) -> Evaluation | None:
    """The evaluation ``evaluation_id`` of this contract, active or superseded, or None."""
    return session.scalars(
        select(Evaluation).where(
            Evaluation.id == evaluation_id, Evaluation.contract_id == contract.row_id
        )
    ).one_or_none()
