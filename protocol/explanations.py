"""Why a balance changed: each rule's deltas with the formula and the inputs that give them.

A rule of a contract kind does not only compute deltas: it says, as a :class:`Term`, which
rule made them (``rule``), from which values (``inputs``, by name, as they were before the
action) and by which arithmetic (``formula``, one expression per delta over the input
names). An input shared by every user the term changes (the contract's total reputation, a
parameter) is in the term's ``inputs``; one that differs from user to user (that user's
own reputation) is an array in ``own_inputs``.

An action's changes are the sum of its terms (:meth:`Terms.changes`), so an explanation
cannot drift from the math: the deltas written are those the terms hold. A user changed
by several terms of one action has one ledger entry, explained by all of them together
(:func:`combine`): their rules joined with ``" + "``, their inputs merged and, for each
delta, the sum of their formulas.

A formula uses numbers, the input names, ``+ - * / **``, parentheses, ``min`` and ``max``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .state import BalanceChanges

DELTAS = ("reputation_delta", "tokens_delta")
"""The deltas every formula gives, in this order."""

UNEXPLAINED = "unexplained"
"""The rule of a change no term explains: one written before explanations existed, or by a
plugin kind that does not give its terms."""

ZERO = "0"

LOSS_RULE = "non_voter_loss"
"""The rule of a loss of every user with no active vote on a contribution (``whitepaper1``)."""

BALANCE_BEFORE = "reputation"
"""The input naming a user's own reputation before the action."""


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Explanation:
    """A rule, the formula of each delta (see :data:`DELTAS`) and the inputs it reads."""

    rule: str
    formula: Mapping[str, str]
    inputs: Mapping[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "formula", _frozen({name: self.formula.get(name, ZERO) for name in DELTAS})
        )
        object.__setattr__(self, "inputs", _frozen({k: float(v) for k, v in self.inputs.items()}))

    def as_dict(self) -> dict:
        """The explanation as plain JSON values."""
        return {"rule": self.rule, "inputs": dict(self.inputs), "formula": dict(self.formula)}


@dataclass(frozen=True)
class Term:
    """One rule's changes to some users, with its explanation: the inputs shared by all of
    them in ``explanation`` and, by name, each user's own in ``own_inputs`` (arrays in the
    order of ``user_ids``)."""

    explanation: Explanation
    user_ids: np.ndarray
    reputation: np.ndarray
    tokens: np.ndarray
    own_inputs: Mapping[str, np.ndarray] = field(default_factory=dict)

    def own(self, index: int) -> dict[str, float]:
        """The own inputs of the ``index``-th user of the term."""
        return {name: float(values[index]) for name, values in self.own_inputs.items()}


class Terms:
    """The terms of one action, added rule by rule; their sum is the action's changes.

    With ``explain`` false only the deltas are kept (no explanation, no own inputs, and
    :meth:`freeze` gives none): the same changes at a fraction of the cost, for callers
    that write no ledger (a replay, a simulation).
    """

    def __init__(self, explain: bool = True) -> None:
        self._terms: list[Term] = []
        self._explain = explain
        self._deltas: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        self,
        rule: str,
        user_ids,
        *,
        formula: Mapping[str, str],
        inputs: Mapping[str, float],
        reputation=0.0,
        tokens=0.0,
        own: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    ) -> None:
        """Add the term of ``rule`` changing ``user_ids`` (one or many) by ``reputation``
        and ``tokens`` (a number for all, or one per user)."""
        ids = np.array(user_ids, dtype=np.int64, ndmin=1)
        if not ids.size:
            return
        reputation, tokens = _per_user(reputation, ids), _per_user(tokens, ids)
        self._deltas.append((ids, reputation, tokens))
        if not self._explain:
            return
        self._terms.append(
            Term(
                explanation=Explanation(rule, formula, inputs),
                user_ids=ids,
                reputation=reputation,
                tokens=tokens,
                own_inputs={name: _per_user(v, ids) for name, v in (own or {}).items()},
            )
        )

    def __iter__(self) -> Iterator[Term]:
        return iter(self._terms)

    def __len__(self) -> int:
        return len(self._terms)

    def freeze(self) -> tuple[Term, ...]:
        """The terms added so far (none when not explaining)."""
        return tuple(self._terms)

    def changes(self) -> BalanceChanges:
        """The sum of every term's deltas, one entry per changed user."""
        return _combined(self._deltas)


def _per_user(values, ids: np.ndarray) -> np.ndarray:
    """``values`` (a number or one per user) as a new float array as long as ``ids``."""
    if isinstance(values, int | float):
        if ids.shape == (1,):  # one user (the evaluator, the contributor): the common case
            return np.array([values], dtype=np.float64)
        array = np.empty(ids.shape, dtype=np.float64)  # np.full's work, without its wrapper
        array.fill(values)
        return array
    array = np.array(values, dtype=np.float64)
    return array if array.shape == ids.shape else np.broadcast_to(array, ids.shape).copy()


def _combined(deltas: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> BalanceChanges:
    """The sum of (user ids, reputation, tokens) deltas, one entry per changed user."""
    if not deltas:
        return BalanceChanges.none()
    if len(deltas) == 1:
        return BalanceChanges.combine(*deltas[0])
    ids, reputation, tokens = (np.concatenate(column) for column in zip(*deltas, strict=True))
    return BalanceChanges.combine(ids, reputation, tokens)


def changes_of(terms: Iterable[Term]) -> BalanceChanges:
    """The sum of the terms' deltas, one entry per changed user."""
    return _combined([(t.user_ids, t.reputation, t.tokens) for t in terms])


@dataclass(frozen=True)
class EntryTerms:
    """For each changed user (in the order of ``user_ids``), which terms of the action
    changed it, as a bit mask over their positions, and its own inputs: an array per name,
    NaN for the users that have no such input."""

    user_ids: np.ndarray
    masks: np.ndarray
    own_inputs: dict[str, np.ndarray]


def entry_terms(terms: Sequence[Term], user_ids: np.ndarray) -> EntryTerms:
    """Which of ``terms`` changed each of ``user_ids`` (sorted, unique: the ids of the
    action's :class:`BalanceChanges`), and each one's own inputs."""
    masks = np.zeros(user_ids.shape, dtype=np.int64)
    own: dict[str, np.ndarray] = {}
    if not user_ids.size:
        return EntryTerms(user_ids, masks, own)
    for position, term in enumerate(terms):
        index = np.minimum(np.searchsorted(user_ids, term.user_ids), user_ids.size - 1)
        found = user_ids[index] == term.user_ids
        np.bitwise_or.at(masks, index[found], np.int64(1) << position)
        for name, values in term.own_inputs.items():
            column = own.setdefault(name, np.full(user_ids.shape, np.nan))
            column[index[found]] = values[found]
    return EntryTerms(user_ids, masks, own)


def combine(
    explanations: Sequence[Explanation], own_inputs: Mapping[str, float] | None = None
) -> Explanation:
    """One entry's explanation from the terms that changed it (in the action's order) and
    its own inputs: their rules joined with ``" + "``, their inputs merged, each delta's
    formula the sum of theirs."""
    if not explanations:
        return Explanation(UNEXPLAINED, {}, {})
    inputs: dict[str, float] = {}
    for explanation in explanations:
        inputs.update(explanation.inputs)
    inputs.update(own_inputs or {})
    formula = {}
    for name in DELTAS:
        parts = [e.formula[name] for e in explanations if e.formula[name] != ZERO]
        if len(parts) > 1:
            parts = [f"({part})" for part in parts]
        formula[name] = " + ".join(parts) or ZERO
    rule = " + ".join(e.rule for e in explanations)
    return Explanation(rule, formula, inputs)


def select_terms(explanations: Sequence[Explanation], mask: int) -> list[Explanation]:
    """The explanations whose positions are set in ``mask``, in order."""
    return [e for position, e in enumerate(explanations) if mask >> position & 1]


def share_of_loss(factor: float) -> Explanation:
    """Why one user lost reputation in a loss of every non-voter that multiplied each one's
    reputation by ``factor``: its share, from its own reputation before (an input of the
    user's entry, :data:`BALANCE_BEFORE`)."""
    return Explanation(
        LOSS_RULE,
        {"reputation_delta": f"{BALANCE_BEFORE} * factor - {BALANCE_BEFORE}"},
        {"factor": factor},
    )
