"""Replaying a contract's history in memory, under its own rules or under others.

The committed actions (new users with their opening balances, contributions, votes) are
read in commit order (``seq``) and applied to a :class:`protocol.Simulation`, the same
engine the service runs, at the moments they happened, each under the version of the
contract's configuration in force when it committed. Under the contract's own rules the
replay reproduces every stored balance (the audit relies on it); under other parameters it
answers "what would this community look like today": some actions may then be refused,
and are reported, as is every action that depended on one of them (a vote on a refused
contribution). Reading is all it does: the caller chooses the transaction, and nothing
here takes the contract's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import Contract as Rules
from protocol import ProtocolError, Simulation, create_contract
from protocol.scenarios import gini

from ..models import ContractRow, ContractVersion, Contribution, Evaluation, LedgerEntry, User
from ..models.columns import MOMENT, read_columns
from ..models.epoch import epoch_micros

USER, CONTRIBUTION, EVALUATION = "user", "contribution", "evaluation"
KINDS = (USER, CONTRIBUTION, EVALUATION)
PROGRESS_EVERY = 10_000
"""Actions between two calls of a replay's progress callback, unless told otherwise."""
MICROS = 1e6


@dataclass(frozen=True)
class Votes:
    """A contract's evaluations as columns in commit order (``seq``), one entry per vote:
    a million rows cost a few arrays rather than a million tuples."""

    id: np.ndarray
    seq: np.ndarray
    time: np.ndarray  # seconds since the epoch
    evaluator_id: np.ndarray
    contribution_id: np.ndarray
    value: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> Votes:
        """The votes of ``rows``, each (id, seq, time, evaluator_id, contribution_id,
        value), in commit order: a history built in memory rather than read."""
        columns = list(zip(*rows, strict=True)) or [()] * 6
        dtypes = (np.int64, np.int64, np.float64, np.int64, np.int64, np.float64)
        return cls(*(np.array(c, dtype) for c, dtype in zip(columns, dtypes, strict=True)))

    @property
    def size(self) -> int:
        """How many votes."""
        return int(self.seq.size)

    def rows(self) -> Iterator[tuple]:
        """Each vote as (id, seq, time, evaluator_id, contribution_id, value), in order,
        made ``VOTES_AT_ONCE`` at a time."""
        columns = (self.id, self.seq, self.time, self.evaluator_id, self.contribution_id)
        columns += (self.value,)
        for start in range(0, self.size, VOTES_AT_ONCE):
            part = (column[start : start + VOTES_AT_ONCE].tolist() for column in columns)
            yield from zip(*part, strict=True)


VOTES_AT_ONCE = 65_536
"""Votes turned into Python values at a time by :meth:`Votes.rows`."""


@dataclass
class History:
    """A contract's committed actions, each kind's in commit order, and the users'
    stored balances now (reputation as balances, the contract's scale applied)."""

    users: list[tuple]  # (id, seq, created_at, referrer_id, opening reputation, tokens)
    contributions: list[tuple]  # (id, seq, created_at, contributor_id, type)
    evaluations: Votes
    user_ids: np.ndarray
    reputation: np.ndarray
    tokens: np.ndarray
    versions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """Each version of the contract's configuration, oldest first, as (the action number
    after which it applies, its overrides); empty when none is stored."""

    @property
    def action_count(self) -> int:
        """How many actions the history holds."""
        return len(self.users) + len(self.contributions) + self.evaluations.size

    def in_commit_order(self) -> Iterator[tuple[str, tuple]]:
        """Every action as (kind, row), in the order the contract committed them (each
        kind's rows are in that order already: only their interleaving is sorted)."""
        counts = (len(self.users), len(self.contributions), self.evaluations.size)
        seqs = np.concatenate(
            [
                np.fromiter((row[1] for row in self.users), np.int64, counts[0]),
                np.fromiter((row[1] for row in self.contributions), np.int64, counts[1]),
                self.evaluations.seq,
            ]
        )
        kinds = np.repeat(np.arange(3, dtype=np.int8), counts)[np.argsort(seqs, kind="stable")]
        order = kinds.tolist()
        rows = (iter(self.users), iter(self.contributions), self.evaluations.rows())
        # map and zip rather than a loop: no Python frame per action.
        kinds_named = map(KINDS.__getitem__, order)
        return zip(kinds_named, map(next, map(rows.__getitem__, order)), strict=True)


def load_history(session: Session, contract_id: int) -> History:
    """Read the contract's actions and balances in the session's transaction (one
    consistent snapshot when it is REPEATABLE READ or stricter).

    Times are read as whole microseconds computed by the database (:mod:`~..models.epoch`)
    rather than as datetimes, a fraction of the cost for a million rows, and turned into
    the same seconds as ``datetime.timestamp()`` gives (both divide exactly by 10^6).
    """
    openings = {}
    for user_id, reputation, tokens in session.execute(
        select(LedgerEntry.user_id, LedgerEntry.reputation_delta, LedgerEntry.tokens_delta).where(
            LedgerEntry.contract_id == contract_id, LedgerEntry.cause_type == USER
        )
    ):
        openings[user_id] = (reputation, tokens)
    scale = session.scalar(
        select(ContractRow.reputation_scale).where(ContractRow.id == contract_id)
    )
    users = session.execute(
        select(
            User.id,
            User.seq,
            epoch_micros(User.created_at),
            User.referrer_id,
            User.reputation,
            User.tokens,
        )
        .where(User.contract_id == contract_id)
        .order_by(User.seq)
    ).all()
    user_rows = [
        (user_id, seq, micros / MICROS, referrer_id, *openings.get(user_id, (0.0, 0.0)))
        for user_id, seq, micros, referrer_id, _, _ in users
    ]
    contributions = [
        (id_, seq, micros / MICROS, contributor_id, type_)
        for id_, seq, micros, contributor_id, type_ in session.execute(
            select(
                Contribution.id,
                Contribution.seq,
                epoch_micros(Contribution.created_at),
                Contribution.contributor_id,
                Contribution.type,
            )
            .where(Contribution.contract_id == contract_id)
            .order_by(Contribution.seq)
        )
    ]
    seqs, ids, micros, evaluators, voted, values = read_columns(
        session,
        [
            (Evaluation.seq, np.int64),
            (Evaluation.id, np.int64),
            (Evaluation.created_at, MOMENT),
            (Evaluation.evaluator_id, np.int64),
            (Evaluation.contribution_id, np.int64),
            (Evaluation.value, np.float64),
        ],
        lambda statement: statement.where(Evaluation.contract_id == contract_id).order_by(
            Evaluation.seq
        ),
    )
    evaluations = Votes(ids, seqs, micros / MICROS, evaluators, voted, values)
    versions = session.execute(
        select(ContractVersion.seq, ContractVersion.overrides)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version)
    )
    return History(
        users=user_rows,
        contributions=contributions,
        evaluations=evaluations,
        user_ids=np.array([row[0] for row in users], dtype=np.int64),
        reputation=np.array([row[4] for row in users], dtype=np.float64) * (scale or 1.0),
        tokens=np.array([row[5] for row in users], dtype=np.float64),
        versions=[(seq, dict(overrides)) for seq, overrides in versions],
    )


@dataclass(frozen=True)
class Refusal:
    """An action of the history that the rules replayed refused, and why."""

    kind: str
    id: int
    reason: str


@dataclass
class Replayed:
    """The community a replay ended with, the database ids of its users and contributions
    (row ``i`` of the simulation's arrays is ``user_ids[i]``), and what it refused."""

    simulation: Simulation
    user_ids: list[int] = field(default_factory=list)
    contribution_ids: list[int] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def what_if_rules(rules: Rules, overrides: Mapping[str, Any]) -> Rules:
    """The contract's rules with ``overrides`` on top of its own; raises the engine's
    :class:`~protocol.ConfigurationError` for an unknown parameter or a bad value."""
    return create_contract(rules.kind, {**rules.overrides, **overrides}, name=rules.name)


def versioned_rules(
    history: History, rules: Rules, overrides: Mapping[str, Any] | None = None
) -> tuple[Rules, list[tuple[int, Rules]]]:
    """The rules to replay ``history`` with: those of its first version and, for each later
    one, the action number after which it takes over and its rules, each version's
    overrides with ``overrides`` on top. A history without stored versions is replayed
    under ``rules`` with ``overrides`` on top. Raises the engine's
    :class:`~protocol.ConfigurationError` for a bad override."""
    extra = dict(overrides or {})
    if not history.versions:
        return what_if_rules(rules, extra), []
    built = [
        (seq, create_contract(rules.kind, {**own, **extra}, name=rules.name))
        for seq, own in history.versions
    ]
    return built[0][1], built[1:]


def replay(
    history: History,
    rules: Rules,
    *,
    stop_at_refusal: bool = False,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = PROGRESS_EVERY,
    later: Sequence[tuple[int, Rules]] = (),
) -> Replayed:
    """Apply every action of ``history`` to a fresh simulation under ``rules``, switching to
    the rules of each of ``later`` for the actions numbered after its own number
    (:func:`versioned_rules`).

    A refused action changes nothing and is listed, and the replay goes on (an action
    naming a refused user or contribution is refused too); with ``stop_at_refusal`` the
    first refusal raises :class:`ReplayRefused` instead. ``on_progress`` is
    called after every ``progress_every`` actions with the number of actions done.
    """
    moment = [0.0]
    simulation = Simulation(rules, clock=lambda: moment[0], explain=False)
    result = Replayed(simulation)
    users: dict[int, int] = {}
    contributions: dict[int, int] = {}
    switches = list(later)
    for done, (kind, row) in enumerate(history.in_commit_order(), start=1):
        while switches and row[1] > switches[0][0]:
            simulation.contract = switches.pop(0)[1]
        moment[0] = row[2]
        try:
            if kind == EVALUATION:
                evaluator = users.get(row[3]) or _known(users, row[3], USER)
                contribution = contributions.get(row[4]) or _known(
                    contributions, row[4], CONTRIBUTION
                )
                simulation.apply_vote(evaluator, contribution, row[5])
            elif kind == CONTRIBUTION:
                contributions[row[0]] = simulation.create_contribution(
                    _known(users, row[3], USER), row[4]
                )
                result.contribution_ids.append(row[0])
            else:
                referrer = None if row[3] is None else _known(users, row[3], USER)
                users[row[0]] = simulation.create_user(row[4], row[5], referrer)
                result.user_ids.append(row[0])
        except ProtocolError as error:
            refusal = Refusal(kind, row[0], error.message)
            if stop_at_refusal:
                raise ReplayRefused(refusal) from error
            result.refused.append(refusal)
        if on_progress is not None and done % progress_every == 0:
            on_progress(done)
    return result


class ReplayRefused(ProtocolError):
    """The rules of a replay refused an action of the history (``refusal``)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.kind} {refusal.id}: {refusal.reason}")
        self.refusal = refusal


class _Refused(ProtocolError):
    """An action naming a user or contribution whose own action was refused."""


def _known(ids: dict[int, int], database_id: int, what: str) -> int:
    """The simulation's id of the user or contribution ``database_id``."""
    try:
        return ids[database_id]
    except KeyError:
        raise _Refused(f"it needs {what} {database_id}, which was refused") from None


@dataclass(frozen=True)
class WhatIf:
    """A contract's users as they are and as a replay under other rules leaves them.

    The arrays are aligned with ``user_ids`` (the contract's users in the order they
    joined); a user whose creation the new rules refused has nothing in the what-if.
    """

    overrides: Mapping[str, Any]
    user_ids: np.ndarray
    actual_reputation: np.ndarray
    actual_tokens: np.ndarray
    what_if_reputation: np.ndarray
    what_if_tokens: np.ndarray
    refused: list[Refusal]
    actions: int

    @property
    def reputation_change(self) -> np.ndarray:
        """Each user's what-if reputation less its actual one."""
        return self.what_if_reputation - self.actual_reputation

    def gainers(self, count: int) -> np.ndarray:
        """The indices of the ``count`` users who gain the most reputation, most first
        (ties in the order they joined); only those who gain."""
        change = self.reputation_change
        order = np.lexsort((np.arange(change.size), -change))[:count]
        return order[change[order] > 0]

    def losers(self, count: int) -> np.ndarray:
        """The indices of the ``count`` users who lose the most reputation, most first;
        only those who lose."""
        change = self.reputation_change
        order = np.lexsort((np.arange(change.size), change))[:count]
        return order[change[order] < 0]

    def summary(self, top: int = 10, refusals: int = 100) -> dict[str, Any]:
        """The report as JSON-friendly data: totals and Gini coefficients actual and
        what-if, the ``top`` users who gain and who lose most, and the first ``refusals``
        refused actions with the count of each kind."""

        def users(indices: np.ndarray) -> list[dict[str, Any]]:
            return [
                {
                    "user_id": int(self.user_ids[i]),
                    "actual_reputation": float(self.actual_reputation[i]),
                    "what_if_reputation": float(self.what_if_reputation[i]),
                    "change": float(self.reputation_change[i]),
                }
                for i in indices.tolist()
            ]

        counts = {USER: 0, CONTRIBUTION: 0, EVALUATION: 0}
        for refusal in self.refused:
            counts[refusal.kind] += 1
        return {
            "overrides": dict(self.overrides),
            "actions": self.actions,
            "users": int(self.user_ids.size),
            "actual": _figures(self.actual_reputation, self.actual_tokens),
            "what_if": _figures(self.what_if_reputation, self.what_if_tokens),
            "gainers": users(self.gainers(top)),
            "losers": users(self.losers(top)),
            "refused": {
                "counts": {f"{kind}s": count for kind, count in counts.items()},
                "first": [
                    {"kind": refusal.kind, "id": refusal.id, "reason": refusal.reason}
                    for refusal in self.refused[:refusals]
                ],
            },
        }


def _figures(reputation: np.ndarray, tokens: np.ndarray) -> dict[str, float]:
    """Totals and inequality of one distribution of balances."""
    return {
        "total_reputation": float(reputation.sum()),
        "total_tokens": float(tokens.sum()),
        "gini": float(gini(reputation)),
    }


def what_if(
    session: Session,
    contract_id: int,
    rules: Rules,
    overrides: Mapping[str, Any],
    on_progress: Callable[[int, int], None] | None = None,
) -> WhatIf:
    """Replay the contract's history under each version of its configuration (the kind of
    ``rules``; ``rules`` themselves when it has no stored version) with ``overrides`` on top,
    and set the outcome beside its users' actual balances (:func:`compare`)."""
    return compare(load_history(session, contract_id), rules, overrides, on_progress)


def compare(
    history: History,
    rules: Rules,
    overrides: Mapping[str, Any],
    on_progress: Callable[[int, int], None] | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> WhatIf:
    """Replay ``history`` under each of its versions with ``overrides`` on top
    (:func:`versioned_rules`), and set the outcome beside the history's actual balances.
    ``on_progress`` is called after every ``progress_every`` actions with the actions done
    and their number. Raises the engine's :class:`~protocol.ConfigurationError` for a bad
    override."""
    first, later = versioned_rules(history, rules, overrides)
    total = history.action_count
    replayed = replay(
        history,
        first,
        on_progress=None if on_progress is None else lambda done: on_progress(done, total),
        progress_every=progress_every,
        later=later,
    )
    position = {user_id: index for index, user_id in enumerate(history.user_ids.tolist())}
    rows = np.array([position[user_id] for user_id in replayed.user_ids], dtype=np.int64)
    reputation = np.zeros(history.user_ids.size)
    tokens = np.zeros(history.user_ids.size)
    reputation[rows] = replayed.simulation.users.reputation
    tokens[rows] = replayed.simulation.users.tokens
    return WhatIf(
        overrides=dict(overrides),
        user_ids=history.user_ids,
        actual_reputation=history.reputation,
        actual_tokens=history.tokens,
        what_if_reputation=reputation,
        what_if_tokens=tokens,
        refused=replayed.refused,
        actions=total,
    )
