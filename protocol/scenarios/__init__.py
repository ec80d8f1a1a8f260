"""Scenarios run in memory through the scoring engine: ``backfeed simulate`` without the CLI.

Parse a scenario (:func:`parse_scenario`) or generate one (:func:`generate_scenario`),
run it (:class:`ScenarioRun`) and watch every step with recorders
(:class:`ReputationHistory`), or run many with other seeds and parameters
(:func:`run_batch`). Files stay out of the engine: reading scenario files,
writing CSV and drawing plots belong to the command line (:mod:`backfeed_api.cli`).
"""

from .batch import RunResult, RunSpec, batch_specs, run_batch, run_one, run_seeds, sweep_grid
from .generate import Community, generate_scenario
from .history import ReputationHistory
from .inequality import gini
from .runner import Recorder, ScenarioRun, SimulatedClock, StepRefused
from .scenario import (
    Action,
    AdvanceDays,
    Contribute,
    Evaluate,
    Join,
    Scenario,
    ScenarioError,
    parse_scenario,
)

__all__ = [
    "Action",
    "AdvanceDays",
    "Community",
    "Contribute",
    "Evaluate",
    "Join",
    "Recorder",
    "ReputationHistory",
    "RunResult",
    "RunSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "SimulatedClock",
    "StepRefused",
    "batch_specs",
    "generate_scenario",
    "gini",
    "parse_scenario",
    "run_batch",
    "run_one",
    "run_seeds",
    "sweep_grid",
]
