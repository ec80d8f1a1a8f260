"""Scenarios run in memory through the scoring engine: ``backfeed simulate`` without the CLI.

Load a scenario (:func:`load_scenario`) or generate one (:func:`generate_scenario`), run it
(:class:`ScenarioRun`) and watch every step with recorders (:class:`CsvRecorder`,
:class:`ReputationHistory`). Plots are drawn by :mod:`.plot`, which imports matplotlib only
when it is used.
"""

from .files import load_scenario
from .generate import Community, generate_scenario
from .history import ReputationHistory
from .inequality import gini
from .record import CsvRecorder
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
    "CsvRecorder",
    "Evaluate",
    "Join",
    "Recorder",
    "ReputationHistory",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "SimulatedClock",
    "StepRefused",
    "generate_scenario",
    "gini",
    "load_scenario",
    "parse_scenario",
]
