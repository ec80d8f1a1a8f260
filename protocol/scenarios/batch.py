"""Many runs of one community: Monte-Carlo seeds, parameter sweeps, and their summaries.

A batch is the cartesian product of the values swept (``sweep_grid``) with the seeds of
the runs (``run_seeds``, derived from one seed), every run a :class:`RunSpec` that holds
all it depends on. Runs share nothing, so they can run in separate processes
(:func:`run_batch`) and give the same results, in the same order, as one after another.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protocol import create_contract

from .generate import Community, generate_scenario
from .inequality import gini
from .runner import ScenarioRun, StepRefused
from .scenario import Action, Contribute, Evaluate, Scenario

SAMPLES = 200
"""How many steps of each run its series keep, evenly spaced, the first and last included."""

TOP_SHARE = 0.1
"""The richest share of the users whose part of all reputation a summary reports."""


def run_seeds(seed: int, runs: int) -> list[int]:
    """The seeds of ``runs`` runs: ``seed`` itself for one run, otherwise as many seeds
    drawn from ``numpy.random.SeedSequence(seed)``, so a seed always gives the same runs."""
    if runs == 1:
        return [seed]
    return [int(word) for word in np.random.SeedSequence(seed).generate_state(runs)]


def sweep_grid(sweeps: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """Every combination of the swept values (the cartesian product), the first parameter
    varying slowest; one empty combination when nothing is swept."""
    names = [name for name, _ in sweeps]
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(values for _, values in sweeps))
    ]


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: a generated community (or a fixed scenario) and its overrides.

    ``swept`` are the parameters of its point of the sweep, included in the overrides.
    """

    index: int
    community: Community | None = None
    scenario: Scenario | None = None
    swept: Mapping[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise the engine's error if this run's contract cannot be built (an unknown
        kind, a bad override or swept value), before any run starts."""
        if self.community is not None:
            create_contract(self.community.kind, self.community.overrides)
        else:
            assert self.scenario is not None
            create_contract(self.scenario.contract, {**self.scenario.overrides, **self.swept})

    def build(self) -> Scenario:
        """The scenario this run plays."""
        if self.community is not None:
            return generate_scenario(self.community)
        assert self.scenario is not None
        return dataclasses.replace(
            self.scenario, overrides={**self.scenario.overrides, **self.swept}
        )


def batch_specs(
    sweeps: Sequence[tuple[str, Sequence[Any]]],
    seeds: Sequence[int],
    community: Community | None = None,
    scenario: Scenario | None = None,
) -> list[RunSpec]:
    """The runs of a batch: each point of the sweep with each seed (a fixed scenario has
    no seed and plays once per point)."""
    specs = []
    for swept in sweep_grid(sweeps):
        if community is None:
            specs.append(RunSpec(len(specs), scenario=scenario, swept=swept))
            continue
        for seed in seeds:
            varied = dataclasses.replace(
                community, seed=seed, overrides={**community.overrides, **swept}
            )
            specs.append(RunSpec(len(specs), community=varied, swept=swept))
    return specs


@dataclass(frozen=True)
class RunResult:
    """What one run ended with, and its series over the sampled steps."""

    spec: RunSpec
    gini: float
    top_share: float
    total_reputation: float
    tokens_issued: float
    refused_evaluations: int
    refused_contributions: int
    steps: np.ndarray
    gini_series: np.ndarray
    top_share_series: np.ndarray
    reputation_series: np.ndarray


def top_share(reputation: np.ndarray, share: float = TOP_SHARE) -> float:
    """The part of all reputation held by the richest ``share`` of the users (at least one);
    0 when nobody has any."""
    if not reputation.size:
        return 0.0
    total = float(reputation.sum())
    if total <= 0:
        return 0.0
    count = max(1, math.ceil(share * reputation.size))
    return float(np.partition(reputation, reputation.size - count)[-count:].sum() / total)


class _Series:
    """A recorder of the sampled steps' inequality, and of the tokens votes paid out."""

    def __init__(self, steps: np.ndarray) -> None:
        self.steps = steps
        self._wanted = set(steps.tolist())
        self.gini: list[float] = []
        self.top_share: list[float] = []
        self.reputation: list[float] = []
        self.tokens_issued = 0.0
        self._tokens = np.empty(0)

    def record(
        self,
        step: int,
        names: Sequence[str],
        reputation: np.ndarray,
        tokens: np.ndarray,
        changed: np.ndarray | None = None,
    ) -> None:
        """Sum the tokens the step gave users who were there before it; sample the step."""
        if changed is not None and changed.size:
            known = changed[changed < self._tokens.size]
            gained = tokens[known] - self._tokens[known]
            self.tokens_issued += float(gained[gained > 0].sum())
        if tokens.size != self._tokens.size or changed is None:
            self._tokens = tokens.copy()
        elif changed.size:
            self._tokens[changed] = tokens[changed]
        if step in self._wanted:
            self.gini.append(gini(reputation))
            self.top_share.append(top_share(reputation))
            self.reputation.append(float(reputation.sum()))


def run_one(spec: RunSpec) -> RunResult:
    """Play one run to the end; a refused step is counted and changes nothing."""
    scenario = spec.build()
    run = ScenarioRun(scenario)
    steps = np.unique(np.linspace(0, run.step_count, min(SAMPLES, run.step_count + 1)).round())
    series = _Series(steps.astype(np.int64))
    refused = {Evaluate: 0, Contribute: 0}

    def count(step: int, action: Action, refusal: StepRefused) -> None:
        refused[type(action)] = refused.get(type(action), 0) + 1

    run.run([series], on_refused=count)
    reputation = run.simulation.users.reputation
    return RunResult(
        spec=spec,
        gini=gini(reputation),
        top_share=top_share(reputation),
        total_reputation=float(reputation.sum()),
        tokens_issued=series.tokens_issued,
        refused_evaluations=refused[Evaluate],
        refused_contributions=refused[Contribute],
        steps=series.steps,
        gini_series=np.array(series.gini),
        top_share_series=np.array(series.top_share),
        reputation_series=np.array(series.reputation),
    )


def run_batch(
    specs: Sequence[RunSpec],
    jobs: int = 1,
    on_done: Callable[[int], None] | None = None,
) -> list[RunResult]:
    """Every run of ``specs``, in their order, on ``jobs`` processes (1: in this one).

    ``on_done`` is called with the number of runs finished so far. Each run depends on its
    spec alone, so the results are the same whatever ``jobs``.
    """
    results: list[RunResult] = []
    with ExitStack() as stack:
        mapper: Callable[..., Iterator[RunResult]] = map
        if jobs > 1 and len(specs) > 1:
            mapper = stack.enter_context(ProcessPoolExecutor(min(jobs, len(specs)))).map
        for result in mapper(run_one, specs):
            results.append(result)
            if on_done is not None:
                on_done(len(results))
    return results
