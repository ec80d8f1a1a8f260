"""An in-memory community: one contract's users, contributions and evaluations in arrays.

It applies actions through the same engine as the web service, with the same validation and
errors, so it serves as the test oracle for the database-backed API, as the replay engine of
``backfeed check`` and as the core of ``backfeed simulate``. One evaluation costs time in
proportion to the contribution's active voters, not to the size of the community (except for
kinds that read the reputation of every non-voter).
"""

from __future__ import annotations

import functools
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .bounds import check_bounded, check_totals
from .contracts.base import ContractRules
from .contracts.base_rules import BaseRulesContract
from .errors import UnknownContribution, UnknownUser
from .state import NO_USER, SECONDS_PER_DAY, EvaluationEffects, EvaluationState, Party, Voters


class _Columns:
    """Named numpy columns of equal length that grow geometrically as rows are added.

    Each column is an attribute, a view of its first ``size`` rows, renewed on each append
    (an attribute rather than a lookup: the engine reads them on every vote).
    """

    def __init__(self, **dtypes: type) -> None:
        self._capacity = 16
        self._arrays = {name: np.zeros(16, dtype=dtype) for name, dtype in dtypes.items()}
        self.size = 0
        self._renew()

    def _renew(self) -> None:
        for name, array in self._arrays.items():
            setattr(self, name, array[: self.size])

    def append(self, **values) -> int:
        """Add one row, a value for every column, and return its index."""
        size = self.size
        if size == self._capacity:
            self._capacity *= 2
            for name, array in self._arrays.items():
                grown = np.zeros(self._capacity, dtype=array.dtype)
                grown[:size] = array
                self._arrays[name] = grown
        self.size = size + 1
        for name, array in self._arrays.items():
            array[size] = values[name]
            setattr(self, name, array[: size + 1])
        return size

    def __getattr__(self, name: str) -> np.ndarray:
        # Only reached for a name that is not a column: the columns are attributes.
        raise AttributeError(name)


@dataclass
class _Ballot:
    """The active votes on one contribution: voter ids and values, one slot per voter; and
    the values of each voter's superseded votes on it, in order, for those who changed."""

    slots: _Columns = field(
        default_factory=lambda: _Columns(user=np.int64, value=np.float64, evaluation=np.int64)
    )
    slot_of: dict[int, int] = field(default_factory=dict)
    superseded: dict[int, list[float]] = field(default_factory=dict)
    referred: bool = False
    """Whether one of the voters has a referrer (whom agreement with it may pay)."""

    def add_voter(self, user: int, value: float, evaluation: int, referrer: int) -> None:
        """Give the user ``user``, referred by ``referrer``, a slot voting ``value``."""
        self.slot_of[user] = self.slots.append(user=user, value=value, evaluation=evaluation)
        self.referred = self.referred or referrer != NO_USER


@dataclass(frozen=True)
class EvaluationOutcome:
    """The evaluation that stands after a vote and what the vote changed: ``moved`` holds
    the ids of the users whose balances it changed, in increasing order."""

    evaluation_id: int
    created: bool
    effects: EvaluationEffects
    moved: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


@functools.cache
def _applies_amounts(rules: type[ContractRules]) -> bool:
    """Whether a vote under ``rules`` may be applied from their amounts
    (:meth:`Simulation.apply_vote`): rules whose vote is the base rules' own."""
    return issubclass(rules, BaseRulesContract) and all(
        getattr(rules, name) is getattr(BaseRulesContract, name) for name in AMOUNTS_PATH
    )


AMOUNTS_PATH = (
    "needs_non_voter_reputation",
    "contribution_type",
    "vote",
    "check_value",
    "check_evaluator",
    "check_vote_changes",
    "check_allowances",
    "evaluate",
    "amounts",
    "referral_active",
    "_reward_agreement",
    "_reward_contributor",
)
"""What :meth:`Simulation.apply_vote` relies on being the base rules' own."""


def _credit(users: _Columns, row: int, deltas: tuple[float, float]) -> None:
    """Add (reputation, tokens) deltas to the balances of the user in ``row`` as
    :class:`~.state.BalanceChanges` would: not at all when both are 0."""
    reputation, tokens = deltas
    if reputation or tokens:
        users.reputation[row] += reputation
        users.tokens[row] += tokens


class Simulation:
    """One contract's community held in memory. Ids start at 1, in order of creation."""

    def __init__(
        self,
        contract: ContractRules,
        clock: Callable[[], float] = time.time,
        *,
        explain: bool = True,
    ) -> None:
        self.contract = contract
        self.clock = clock
        self.explain = explain
        """Whether votes' effects carry their terms (:class:`~.state.EvaluationState`)."""
        self.users = _Columns(
            reputation=np.float64, tokens=np.float64, referrer=np.int64, created_at=np.float64
        )
        self.contributions = _Columns(
            contributor=np.int64,
            max_score=np.float64,
            token_fund=np.float64,
            created_at=np.float64,
        )
        self.contribution_types: list[str] = []
        self.evaluations = _Columns(
            contribution=np.int64, evaluator=np.int64, value=np.float64, active=np.bool_
        )
        self.total_reputation = 0.0
        self.total_tokens = 0.0
        self._ballots: list[_Ballot] = []
        self._daily: Counter[tuple[int, ...]] = Counter()
        """Recorded evaluations per (UTC day, evaluator) and (day, evaluator, contributor),
        for the allowances; kept whatever the rules, which a replay may change for others
        that set one (the votes of that day so far count)."""

    # -- users -------------------------------------------------------------------------------

    def create_user(
        self,
        reputation: float | None = None,
        tokens: float | None = None,
        referrer_id: int | None = None,
    ) -> int:
        """Add a user with the given or default balances; return its id."""
        reputation, tokens = self.contract.new_user_balances(reputation, tokens)
        if referrer_id is not None:
            self._user_index(referrer_id, "referrer_id")
        check_totals("this user", self.total_reputation + reputation, self.total_tokens + tokens)
        self.users.append(
            reputation=reputation,
            tokens=tokens,
            referrer=NO_USER if referrer_id is None else referrer_id,
            created_at=self.clock(),
        )
        self.total_reputation += reputation
        self.total_tokens += tokens
        return self.users.size

    def _user_index(self, user_id: int, field_name: str) -> int:
        if (
            isinstance(user_id, bool)
            or not isinstance(user_id, int | np.integer)
            or not (1 <= user_id <= self.users.size)
        ):
            raise UnknownUser(
                f"{field_name} {user_id!r} is not a user of this contract", field_name
            )
        return int(user_id) - 1

    def party(self, user_id: int) -> Party:
        """The user ``user_id`` as the engine sees a single participant."""
        i = user_id - 1
        users = self.users
        return Party(
            user_id,
            users.reputation.item(i),
            users.tokens.item(i),
            users.referrer.item(i),
            users.created_at.item(i),
        )

    # -- contributions -----------------------------------------------------------------------

    def create_contribution(self, contributor_id: int, type: str | None = None) -> int:
        """The contributor pays the type's fee and a new contribution is opened; return its id."""
        i = self._user_index(contributor_id, "contributor_id")
        contribution_type = self.contract.contribution_type(type)
        fee = self.contract.contribution_fee(contribution_type, float(self.users.tokens[i]))
        self.users.tokens[i] -= fee
        self.total_tokens -= fee
        self.contributions.append(
            contributor=contributor_id,
            max_score=0.0,
            token_fund=contribution_type.token_fund_for_evaluators,
            created_at=self.clock(),
        )
        self.contribution_types.append(contribution_type.name)
        self._ballots.append(_Ballot())
        return self.contributions.size

    def _contribution_index(self, contribution_id: int) -> int:
        if (
            isinstance(contribution_id, bool)
            or not isinstance(contribution_id, int | np.integer)
            or not (1 <= contribution_id <= self.contributions.size)
        ):
            raise UnknownContribution(
                f"contribution_id {contribution_id!r} is not a contribution of this contract",
                "contribution_id",
            )
        return int(contribution_id) - 1

    # -- evaluations -------------------------------------------------------------------------

    def evaluate(self, evaluator_id: int, contribution_id: int, value: float) -> EvaluationOutcome:
        """Apply a vote through the engine; the state is untouched if it is refused."""
        u = self._user_index(evaluator_id, "evaluator_id")
        c = self._contribution_index(contribution_id)
        ballot = self._ballots[c]
        slots = ballot.slots
        own_slot = ballot.slot_of.get(evaluator_id)
        voter_ids, voter_values = slots.user, slots.value
        if own_slot is not None:
            voter_ids = np.delete(voter_ids, own_slot)
            voter_values = np.delete(voter_values, own_slot)
        voter_index = voter_ids - 1
        users = self.users
        reputation, referrer, created_at = users.reputation, users.referrer, users.created_at
        superseded = ballot.superseded.get(evaluator_id, ())
        now = self.clock()
        day = int(now // SECONDS_PER_DAY)
        contributions = self.contributions
        contributor_id = int(contributions.contributor[c])
        non_voters = None
        non_voter_reputation = 0.0
        if self.contract.needs_non_voter_reputation:
            non_voters = np.ones(users.size, dtype=bool)
            non_voters[slots.user - 1] = False
            non_voters[u] = False
            non_voter_reputation = float(reputation[non_voters].sum())
        daily = self._daily
        state = EvaluationState(
            contribution_type=self.contract.contribution_type(self.contribution_types[c]),
            max_score=float(contributions.max_score[c]),
            token_fund=float(contributions.token_fund[c]),
            evaluator=self.party(evaluator_id),
            contributor=self.party(contributor_id),
            value=value,
            previous_value=None if own_slot is None else float(slots.value[own_slot]),
            voters=Voters(
                ids=voter_ids,
                reputations=reputation[voter_index],
                values=voter_values,
                referrer_ids=referrer[voter_index],
                created_at=created_at[voter_index],
            ),
            total_reputation=self.total_reputation,
            now=now,
            non_voter_reputation=non_voter_reputation,
            superseded_values=frozenset(superseded),
            vote_changes=len(superseded),
            total_tokens=self.total_tokens,
            evaluations_today=daily.get((day, evaluator_id), 0),
            evaluations_today_on_contributor=daily.get((day, evaluator_id, contributor_id), 0),
            explain=self.explain,
        )
        effects = self.contract.vote(state)
        if not effects.recorded:
            return EvaluationOutcome(int(slots.evaluation[own_slot]), False, effects)
        self._count_vote(day, evaluator_id, contributor_id)

        changes = effects.changes
        moved = changes.user_ids
        rows = moved - 1
        reputation[rows] += changes.reputation
        users.tokens[rows] += changes.tokens
        if effects.non_voter_factor is not None and non_voters is not None:
            reputation[non_voters] *= effects.non_voter_factor
            if effects.non_voter_factor != 1.0:
                losers = non_voters & (reputation != 0.0)
                moved = np.union1d(moved, np.flatnonzero(losers) + 1)
        self.total_reputation += effects.reputation_delta
        self.total_tokens += effects.tokens_delta
        contributions.max_score[c] = effects.max_score
        contributions.token_fund[c] = effects.token_fund

        evaluation = self.evaluations.append(
            contribution=contribution_id, evaluator=evaluator_id, value=float(value), active=True
        )
        if own_slot is None:
            ballot.add_voter(evaluator_id, float(value), evaluation + 1, referrer.item(u))
        else:
            self.evaluations.active[slots.evaluation[own_slot] - 1] = False
            ballot.superseded[evaluator_id] = [*superseded, float(slots.value[own_slot])]
            slots.value[own_slot] = float(value)
            slots.evaluation[own_slot] = evaluation + 1
        return EvaluationOutcome(evaluation + 1, True, effects, moved)

    def _count_vote(self, day: int, evaluator_id: int, contributor_id: int) -> None:
        """Count a recorded evaluation of ``day`` by the evaluator, and on the contributor."""
        daily = self._daily
        key = (day, evaluator_id)
        daily[key] = daily.get(key, 0) + 1  # without Counter's __missing__ for a new key
        key = (day, evaluator_id, contributor_id)
        daily[key] = daily.get(key, 0) + 1

    def apply_vote(self, evaluator_id: int, contribution_id: int, value: float) -> None:
        """Apply a vote as :meth:`evaluate` does, to the same balances bit for bit and with
        the same refusals, but give no outcome: what a replay of a history needs.

        An evaluator's first vote on a contribution under the base rules, with no daily
        allowance, self-evaluation or referral in play (most votes of a community), is
        applied straight from the rules' amounts (:meth:`BaseRulesContract.amounts`), with
        no engine state, terms or effects built for it: a fraction of the cost. Any other
        goes through :meth:`evaluate`.
        """
        contract = self.contract
        u = self._user_index(evaluator_id, "evaluator_id")
        c = self._contribution_index(contribution_id)
        ballot = self._ballots[c]
        contributions = self.contributions
        contributor_id = contributions.contributor.item(c)
        params = contract.params
        if (
            not _applies_amounts(type(contract))
            or ballot.referred
            or contributor_id == evaluator_id
            or evaluator_id in ballot.slot_of
            or contributor_id in ballot.slot_of
            or params.evaluations_per_day is not None
            or params.evaluations_per_contributor_per_day is not None
        ):
            self.evaluate(evaluator_id, contribution_id, value)
            return
        kind = contract.contribution_type(self.contribution_types[c])
        value = contract.check_value(kind, value)
        slots = ballot.slots
        users = self.users
        reputation = users.reputation
        rows = slots.user - 1
        amounts = contract.amounts(
            kind,
            value,
            reputation.item(u),
            (reputation[rows], slots.value),
            self.total_reputation,
            contributions.token_fund.item(c),
            contributions.max_score.item(c),
            first_vote=True,
            held_before=False,
        )
        contributor = contributor_id - 1
        if amounts.base > 0 and users.referrer.item(contributor) != NO_USER:
            self.evaluate(evaluator_id, contribution_id, value)  # its referrer is paid too
            return
        # Each user's deltas summed from 0.0, as BalanceChanges.combine sums them.
        own = (0.0 if amounts.fee is None else -amounts.fee + 0.0, amounts.token_reward + 0.0)
        paid = (
            kind.reputation_reward_factor * amounts.base + 0.0,
            kind.token_reward_factor * amounts.base + 0.0,
        )
        gains = np.empty(0) if amounts.factor is None else amounts.reputations * amounts.factor
        reputation_delta = math.fsum([own[0], paid[0], *gains.tolist()]) + 0.0
        tokens_delta = math.fsum([own[1], paid[1]])
        check_bounded(
            "this vote",
            total_reputation=self.total_reputation + reputation_delta,
            total_tokens=self.total_tokens + tokens_delta,
            token_fund=amounts.token_fund,
            max_score=amounts.max_score,
        )
        day = int(self.clock() // SECONDS_PER_DAY)
        self._count_vote(day, evaluator_id, contributor_id)
        _credit(users, u, own)
        _credit(users, contributor, paid)
        if gains.size:
            reputation[rows[amounts.same]] += gains
        self.total_reputation += reputation_delta
        self.total_tokens += tokens_delta
        contributions.max_score[c] = amounts.max_score
        contributions.token_fund[c] = amounts.token_fund
        evaluation = self.evaluations.append(
            contribution=contribution_id, evaluator=evaluator_id, value=value, active=True
        )
        ballot.add_voter(evaluator_id, value, evaluation + 1, users.referrer.item(u))

    # -- derived figures ---------------------------------------------------------------------

    def voted_reputation(self, contribution_id: int) -> dict[float, float]:
        """``V(c, x)`` for each value ``x`` of the contribution's type, from current reputation."""
        c = self._contribution_index(contribution_id)
        slots = self._ballots[c].slots
        contribution_type = self.contract.contribution_type(self.contribution_types[c])
        reputations = self.users.reputation[slots.user - 1]
        return {
            x: float(reputations[slots.value == x].sum()) for x in contribution_type.evaluation_set
        }

    def scores(self) -> np.ndarray:
        """Every contribution's score now, in id order, computed in one vectorised pass."""
        active = self.evaluations.active
        contribution = self.evaluations.contribution[active] - 1
        value = self.evaluations.value[active]
        weight = self.users.reputation[self.evaluations.evaluator[active] - 1]
        n = self.contributions.size
        up = np.bincount(contribution, weights=weight * (value == 1), minlength=n)
        down = np.bincount(contribution, weights=weight * (value == 0), minlength=n)
        age_days = (self.clock() - self.contributions.created_at) / SECONDS_PER_DAY
        return self.contract.scores(up, down, self.total_reputation, age_days)
