"""Running a scenario through :class:`protocol.Simulation` and showing each step to recorders.

Time comes from a :class:`SimulatedClock` that moves only when a scenario says so, never from
the wall clock, so a run depends on nothing but its scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np

from protocol import ProtocolError, Simulation, UnknownContribution, UnknownUser, create_contract
from protocol.state import SECONDS_PER_DAY

from .scenario import Action, AdvanceDays, Contribute, Evaluate, Join, Scenario, ScenarioError

EPOCH = 1_451_606_400.0
"""Where simulated time starts: 2016-01-01T00:00:00Z, in seconds since the Unix epoch."""


class SimulatedClock:
    """A clock for :class:`protocol.Simulation` that only moves when told to."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance_days(self, days: float) -> None:
        """Move time forward by ``days`` (a float; fractions of a day are fine)."""
        self.now += days * SECONDS_PER_DAY


class Recorder(Protocol):
    """Something that looks at the community after every step (a CSV writer, a plot)."""

    def record(
        self,
        step: int,
        names: Sequence[str],
        reputation: np.ndarray,
        tokens: np.ndarray,
        changed: np.ndarray | None = None,
    ) -> None:
        """See the balances after ``step``; row ``i`` of each array belongs to ``names[i]``.

        ``changed`` holds the rows whose balances the step moved, in increasing order, or is
        None when every row is new (step 0). The arrays are the simulation's own, valid only
        during the call: copy to keep.
        """


class StepRefused(Exception):
    """The engine refused an action of the scenario; ``error`` is its :class:`ProtocolError`."""

    def __init__(self, where: str, error: ProtocolError) -> None:
        super().__init__(f"{where}: {error.message}")
        self.where = where
        self.error = error


class ScenarioRun:
    """One scenario's community in memory, with its users and contributions found by name."""

    def __init__(self, scenario: Scenario, clock: SimulatedClock | None = None) -> None:
        self.scenario = scenario
        self.clock = clock or SimulatedClock()
        contract = create_contract(scenario.contract, scenario.overrides)
        self.simulation = Simulation(contract, clock=self.clock, explain=False)
        self.user_names: list[str] = []
        self._user_ids: dict[str, int] = {}
        self._contribution_ids: dict[str, int] = {}
        self._refused: set[tuple[type, str]] = set()

    @property
    def step_count(self) -> int:
        """How many steps follow the setup (step 0)."""
        return len(self.scenario.steps)

    def run(
        self,
        recorders: Iterable[Recorder] = (),
        on_step: Callable[[int], None] | None = None,
        on_refused: Callable[[int, Action, StepRefused], None] | None = None,
    ) -> None:
        """Apply the setup, then every step, showing the balances to each recorder each time.

        ``on_step`` is called with the number of the step just done (for a progress bar).
        A step the engine refuses raises :class:`StepRefused`, unless ``on_refused`` is
        given: then it is called with the step's number, action and refusal, the step
        changes nothing, and the run goes on (a step naming what a refused step would have
        created is refused too). A step naming something that never was raises
        :class:`ScenarioError`.
        """
        recorders = list(recorders)
        for action in self.scenario.setup:
            self.apply(action, _setup_label(action))
        self._show(0, recorders, None)
        nothing = np.empty(0, dtype=np.int64)
        for step, action in enumerate(self.scenario.steps, start=1):
            try:
                changed = self.apply(action, f"step {step} ({_KIND_NAMES[type(action)]})")
            except StepRefused as refusal:
                if on_refused is None:
                    raise
                on_refused(step, action, refusal)
                changed = nothing
            self._show(step, recorders, changed)
            if on_step is not None:
                on_step(step)

    def apply(self, action: Action, where: str) -> np.ndarray:
        """Carry out one action; ``where`` names it in any error. Returns the indices of the
        users whose balances it moved."""
        try:
            return self._apply(action, where)
        except ProtocolError as error:
            if isinstance(action, Join | Contribute):
                self._refused.add((type(action), action.name))
            raise StepRefused(where, error) from error

    def _apply(self, action: Action, where: str) -> np.ndarray:
        simulation = self.simulation
        match action:
            case Join(name, reputation, tokens, referrer):
                self._check_new(name, self._user_ids, "user", where)
                referrer_id = None if referrer is None else self._user(referrer, where)
                self._user_ids[name] = simulation.create_user(reputation, tokens, referrer_id)
                self.user_names.append(name)
                return np.array([self._user_ids[name] - 1])
            case Contribute(name, contributor, type_name):
                self._check_new(name, self._contribution_ids, "contribution", where)
                contributor_id = self._user(contributor, where)
                before = float(simulation.users.tokens[contributor_id - 1])
                contribution_id = simulation.create_contribution(contributor_id, type_name)
                self._contribution_ids[name] = contribution_id
                paid = simulation.users.tokens[contributor_id - 1] != before
                return np.array([contributor_id - 1] if paid else [], dtype=np.int64)
            case Evaluate(evaluator, contribution, value):
                outcome = simulation.evaluate(
                    self._user(evaluator, where), self._contribution(contribution, where), value
                )
                return outcome.moved - 1
            case AdvanceDays(days):
                self.clock.advance_days(days)
                return np.empty(0, dtype=np.int64)
            case _:
                raise ScenarioError(f"{where}: not a scenario action: {action!r}")

    def _show(self, step: int, recorders: Sequence[Recorder], changed: np.ndarray | None) -> None:
        users = self.simulation.users
        for recorder in recorders:
            recorder.record(step, self.user_names, users.reputation, users.tokens, changed)

    def _user(self, name: str, where: str) -> int:
        try:
            return self._user_ids[name]
        except KeyError:
            if (Join, name) in self._refused:
                raise UnknownUser(f"user {name!r} was refused", "user") from None
            raise ScenarioError(f"{where}: there is no user {name!r} at this point") from None

    def _contribution(self, name: str, where: str) -> int:
        try:
            return self._contribution_ids[name]
        except KeyError:
            if (Contribute, name) in self._refused:
                raise UnknownContribution(
                    f"contribution {name!r} was refused", "contribution"
                ) from None
            raise ScenarioError(
                f"{where}: there is no contribution {name!r} at this point"
            ) from None

    @staticmethod
    def _check_new(name: str, known: dict[str, int], what: str, where: str) -> None:
        if name in known:
            raise ScenarioError(f"{where}: there is already a {what} called {name!r}")


_KIND_NAMES: dict[type, str] = {
    Join: "join",
    Contribute: "contribute",
    Evaluate: "evaluate",
    AdvanceDays: "advance_days",
}


def _setup_label(action: Action) -> str:
    """How an error names an entry of the starting community."""
    if isinstance(action, Join):
        return f"user {action.name!r}"
    if isinstance(action, Contribute):
        return f"contribution {action.name!r}"
    return f"setup ({_KIND_NAMES[type(action)]})"
