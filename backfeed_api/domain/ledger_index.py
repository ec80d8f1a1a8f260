"""A contract's ledger in memory: what was issued when, and every user's balances at any
moment of it.

Like :mod:`.activity`, each process keeps the contract's ledger as numpy arrays brought up to
date at each use from the rows added since (by primary key). Three parts:

- every entry, collective ones included: its moment and deltas (what was created and
  destroyed in a period);
- the *anchors* of :mod:`.history`: a user's own entries and its exemptions from collective
  losses, each with the user's balances after it and the position of the user's previous
  anchor;
- the collective losses, with the contract's scale after each.

A user's balances at a position of the ledger are those of its latest anchor up to there,
its reputation times the product of the loss factors since (:class:`.scale.Scale`): the
anchors of a period whose previous anchor lies before it are each user's first in the
period, and that previous one is the user's latest before the period, which makes the
balances before a period one vectorised step however long the ledger.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func
from sqlalchemy.orm import Session

from ..models import LedgerEntry, LedgerExemption
from ..models.columns import MOMENT, read_columns
from .periods import Period

NONE = -1


def _empty(dtype=np.int64) -> np.ndarray:
    return np.empty(0, dtype)


@dataclass(frozen=True)
class Balances:
    """Every user's reputation and tokens at one position, indexed by user id."""

    reputation: np.ndarray
    tokens: np.ndarray


@dataclass
class _Entries:
    """Every entry in id order: id, moment, and what it created and destroyed."""

    id: np.ndarray = field(default_factory=_empty)
    latest: np.ndarray = field(default_factory=_empty)
    """The running maximum of the entries' moments: what places a moment in the ledger's
    order."""

    created: np.ndarray = field(default_factory=lambda: np.empty((4, 0)))
    """Per entry, what it created and destroyed: reputation, then tokens."""

    def add(self, ids, times, reputation, tokens) -> None:
        self.id = np.concatenate([self.id, ids])
        later = np.maximum.accumulate(np.concatenate([self.latest[-1:], times]))
        self.latest = np.concatenate([self.latest, later[1 if self.latest.size else 0 :]])
        parts = [np.maximum(reputation, 0), -np.minimum(reputation, 0)]
        parts += [np.maximum(tokens, 0), -np.minimum(tokens, 0)]
        self.created = np.concatenate([self.created, np.vstack(parts)], axis=1)


@dataclass
class _Anchors:
    """The users' anchors in ledger order, and each user's latest (``NONE`` if none)."""

    pos: np.ndarray = field(default_factory=_empty)
    user: np.ndarray = field(default_factory=_empty)
    reputation: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    tokens: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    previous: np.ndarray = field(default_factory=_empty)
    latest: np.ndarray = field(default_factory=lambda: np.full(1, NONE, np.int64))

    def add(self, pos, user, reputation, tokens) -> None:
        """Append anchors (in ledger order) and link each to its user's previous one."""
        if not pos.size:
            return
        if int(user.max()) >= self.latest.size:
            grown = np.full(int(user.max()) + 1, NONE, np.int64)
            grown[: self.latest.size] = self.latest
            self.latest = grown
        first = self.pos.size
        order = np.argsort(user, kind="stable")  # by user, then ledger order
        grouped = user[order]
        starts = np.ones(order.size, bool)
        starts[1:] = grouped[1:] != grouped[:-1]
        previous = np.empty(order.size, np.int64)
        previous[order[starts]] = self.latest[grouped[starts]]
        previous[order[~starts]] = first + order[np.flatnonzero(~starts) - 1]
        ends = np.ones(order.size, bool)
        ends[:-1] = starts[1:]
        self.latest[grouped[ends]] = first + order[ends]
        self.pos = np.concatenate([self.pos, pos])
        self.user = np.concatenate([self.user, user])
        self.reputation = np.concatenate([self.reputation, reputation])
        self.tokens = np.concatenate([self.tokens, tokens])
        self.previous = np.concatenate([self.previous, previous])


@dataclass
class _Losses:
    """The collective losses in ledger order, with the contract's scale after each."""

    pos: np.ndarray = field(default_factory=_empty)
    scale: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    exponent: np.ndarray = field(default_factory=_empty)

    def add(self, pos, scale, exponent) -> None:
        self.pos = np.concatenate([self.pos, pos])
        self.scale = np.concatenate([self.scale, scale])
        self.exponent = np.concatenate([self.exponent, exponent])

    def at(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scale (value, exponent) once the ledger reached each of ``pos``."""
        index = np.searchsorted(self.pos, pos, side="right") - 1
        found = index >= 0
        safe = np.maximum(index, 0)
        scale = np.where(found, self.scale[safe] if self.pos.size else 1.0, 1.0)
        exponent = np.where(found, self.exponent[safe] if self.pos.size else 0, 0)
        return scale, exponent.astype(np.int64)


def factor_since(later: tuple, earlier: tuple) -> np.ndarray:
    """The product of the loss factors between two scales (see ``Scale.since``)."""
    return np.ldexp(later[0] / earlier[0], earlier[1] - later[1])


@dataclass(frozen=True)
class Issued:
    """What the entries of a period created and destroyed."""

    reputation_created: float
    reputation_destroyed: float
    tokens_created: float
    tokens_destroyed: float


class LedgerIndex:
    """One contract's ledger, cached in this process."""

    def __init__(self, contract_id: int) -> None:
        self.contract_id = contract_id
        self._lock = threading.Lock()
        self._entries, self._anchors, self._losses = _Entries(), _Anchors(), _Losses()

    def issued(self, session: Session, period: Period) -> Issued:
        """Reputation and tokens created (positive deltas) and destroyed (negative ones)
        by the entries of ``period``, a collective loss as the sum of its users' shares."""
        with self._lock:
            self._read_new(session)
            first, stop = self._window(period)
            sums = self._entries.created[:, first:stop].sum(axis=1)
            return Issued(*(float(value) for value in sums))

    def gains(self, session: Session, period: Period) -> Balances:
        """By user id, how much each user's balances changed over ``period``."""
        with self._lock:
            self._read_new(session)
            first, stop = self._window(period)
            before = self._balances(self._position(first))
            after = self._balances(self._position(stop))
            return Balances(after.reputation - before.reputation, after.tokens - before.tokens)

    def _window(self, period: Period) -> tuple[int, int]:
        """The entries of the period: after the last one stamped before it, up to the last
        one stamped within it (in ledger order)."""
        latest = self._entries.latest
        first = int(np.searchsorted(latest, period.start, side="left"))
        stop = int(np.searchsorted(latest, period.end, side="right"))
        return first, max(first, stop)

    def _position(self, count: int) -> int:
        """The ledger id after the first ``count`` entries (``NONE`` before any)."""
        return int(self._entries.id[count - 1]) if count else NONE

    def _balances(self, pos: int) -> Balances:
        """Every user's balances once the ledger reached the id ``pos``."""
        anchors = self._anchors
        seen = int(np.searchsorted(anchors.pos, pos, side="right"))
        latest = anchors.latest.copy()
        later = np.arange(seen, anchors.pos.size)
        first_later = later[anchors.previous[later] < seen]
        latest[anchors.user[first_later]] = anchors.previous[first_later]
        known = latest != NONE
        chosen = latest[known]
        reputation = np.zeros(latest.size)
        tokens = np.zeros(latest.size)
        since = factor_since(
            self._losses.at(np.full(chosen.size, pos)), self._losses.at(anchors.pos[chosen])
        )
        reputation[known] = anchors.reputation[chosen] * since
        tokens[known] = anchors.tokens[chosen]
        return Balances(reputation, tokens)

    @property
    def entries(self) -> int:
        """How many entries this process has read."""
        return int(self._entries.id.size)

    def refresh(self, session: Session) -> None:
        """Read the entries added since the last use (all of them the first time)."""
        with self._lock:
            self._read_new(session)

    def _read_new(self, session: Session) -> None:
        last = int(self._entries.id[-1]) if self._entries.id.size else NONE
        columns = [
            (LedgerEntry.id, np.int64),
            (LedgerEntry.created_at, MOMENT),
            (func.coalesce(LedgerEntry.user_id, NONE), np.int64),
            (LedgerEntry.reputation_delta, np.float64),
            (LedgerEntry.tokens_delta, np.float64),
            (LedgerEntry.reputation, np.float64),
            (LedgerEntry.tokens, np.float64),
            (func.coalesce(LedgerEntry.scale, 1.0), np.float64),
            (func.coalesce(LedgerEntry.scale_exponent, 0), np.int64),
        ]
        ids, created, users, delta_r, delta_t, reputation, tokens, scale, exponent = read_columns(
            session,
            columns,
            lambda statement: statement.where(
                LedgerEntry.contract_id == self.contract_id, LedgerEntry.id > last
            ).order_by(LedgerEntry.id),
        )
        if not ids.size:
            return
        self._entries.add(ids, created, delta_r, delta_t)
        own = users != NONE
        collective = ids[~own]
        spared = _no_exemptions()
        if collective.size:
            spared = self._exemptions(session, last, int(ids[-1]))
        self._losses.add(collective, scale[~own], exponent[~own])
        pos = np.concatenate([ids[own], spared[0]])
        order = np.argsort(pos, kind="stable")
        self._anchors.add(
            pos[order],
            np.concatenate([users[own], spared[1]])[order],
            np.concatenate([reputation[own], spared[2]])[order],
            np.concatenate([tokens[own], spared[3]])[order],
        )

    def _exemptions(self, session: Session, last: int, upto: int) -> tuple[np.ndarray, ...]:
        """The exemptions from the contract's collective entries after the id ``last`` up
        to ``upto``: their positions, users and balances after."""
        return read_columns(
            session,
            [
                (LedgerExemption.ledger_id, np.int64),
                (LedgerExemption.user_id, np.int64),
                (LedgerExemption.reputation, np.float64),
                (LedgerExemption.tokens, np.float64),
            ],
            lambda statement: (
                statement.join(LedgerEntry, LedgerEntry.id == LedgerExemption.ledger_id)
                .where(
                    LedgerEntry.contract_id == self.contract_id,
                    LedgerEntry.user_id.is_(None),
                    LedgerEntry.id > last,
                    LedgerEntry.id <= upto,
                )
                .order_by(LedgerExemption.ledger_id)
            ),
        )


def _no_exemptions() -> tuple[np.ndarray, ...]:
    return _empty(), _empty(), _empty(np.float64), _empty(np.float64)
