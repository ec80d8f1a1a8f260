"""Every action of a contract, in memory: when, by whom, of what kind.

Counting actions by time or by user over any period must not read every row per request,
so each process keeps, per contract, the moment, the actor and the kind of every action
as numpy arrays, brought up to date at each use by reading only the rows added since (ids
grow in commit order within a contract, whose writes all hold its lock; a table's primary
key finds them). The actor of a contribution is its contributor, of an evaluation its
evaluator (a vote that replaced an earlier one is an action too), and of a new user the
user itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ContractRow, Contribution, Evaluation, User
from ..models.columns import MOMENT, read_columns

USER, CONTRIBUTION, EVALUATION = 0, 1, 2
KIND_NAMES = {USER: "users", CONTRIBUTION: "contributions", EVALUATION: "evaluations"}
NO_ID = -1


@dataclass(frozen=True)
class Actions:
    """A snapshot of the contract's actions: moment (microseconds), actor and kind."""

    time: np.ndarray
    actor: np.ndarray
    kind: np.ndarray


@dataclass
class _Table:
    """The actions read so far from one table."""

    model: type
    actor: object
    kind: int
    last_id: int = NO_ID
    time: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    actors: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def read_new(self, session: Session, contract_id: int) -> bool:
        """Append the rows added since the last read; whether there were any."""
        model = self.model
        ids, created, actors = read_columns(
            session,
            [(model.id, np.int64), (model.created_at, MOMENT), (self.actor, np.int64)],
            lambda statement: statement.where(
                model.contract_id == contract_id, model.id > self.last_id
            ).order_by(model.id),
        )
        if not ids.size:
            return False
        self.last_id = int(ids[-1])
        self.time = np.concatenate([self.time, created])
        self.actors = np.concatenate([self.actors, actors])
        return True


class ActivityIndex:
    """One contract's actions, cached in this process."""

    def __init__(self, contract_id: int) -> None:
        self.contract_id = contract_id
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._tables = [
            _Table(User, User.id, USER),
            _Table(Contribution, Contribution.contributor_id, CONTRIBUTION),
            _Table(Evaluation, Evaluation.evaluator_id, EVALUATION),
        ]
        self._snapshot = self._join()

    def _join(self) -> Actions:
        return Actions(
            np.concatenate([table.time for table in self._tables]),
            np.concatenate([table.actors for table in self._tables]),
            np.concatenate([np.full(t.time.size, t.kind, np.int8) for t in self._tables]),
        )

    def actions(self, session: Session) -> Actions:
        """Every action of the contract committed so far; rebuilt from scratch when fewer
        were found than the contract's counter of actions says (which counts each version of
        its configuration after the first too: :mod:`.versions`)."""
        with self._lock:
            stored = session.scalar(
                select(ContractRow.action_count - ContractRow.version + 1).where(
                    ContractRow.id == self.contract_id
                )
            )
            for attempt in range(2):
                if attempt:
                    self._reset()
                fresh = [table.read_new(session, self.contract_id) for table in self._tables]
                if any(fresh):
                    self._snapshot = self._join()
                if self._snapshot.time.size >= stored:
                    break
            return self._snapshot
