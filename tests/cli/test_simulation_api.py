"""The simulation package used directly, without the command line."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pytest

from backfeed_api.cli.csv_recorder import CsvRecorder
from backfeed_api.cli.progress import ProgressBar
from protocol.scenarios import ReputationHistory, ScenarioRun, SimulatedClock, parse_scenario


class Snapshots:
    """A recorder that keeps a copy of every step's balances."""

    def __init__(self) -> None:
        self.steps: list[dict[str, tuple[float, float]]] = []

    def record(
        self,
        step: int,
        names: Sequence[str],
        reputation: np.ndarray,
        tokens: np.ndarray,
        changed: np.ndarray | None = None,
    ) -> None:
        assert step == len(self.steps)
        balances = zip(reputation.tolist(), tokens.tolist(), strict=True)
        self.steps.append(dict(zip(names, balances, strict=True)))


def referral_scenario(days_before_the_vote: float) -> dict:
    """Ann, referred by Rita, is rewarded for an article, some days after joining."""
    return {
        "contract": "example",
        "users": [
            {"name": "rita", "reputation": 0, "tokens": 0},
            {"name": "ann", "reputation": 0, "tokens": 10, "referrer": "rita"},
            {"name": "bonnie", "reputation": 100},
        ],
        "contributions": [{"name": "c1", "contributor": "ann"}],
        "steps": [
            {"advance_days": days_before_the_vote},
            {"evaluate": {"evaluator": "bonnie", "contribution": "c1", "value": True}},
        ],
    }


def test_referral_bonus_is_paid_within_the_window_only() -> None:
    # Bonnie holds all reputation, so her vote scores 1: Ann earns 5 reputation, 50 tokens,
    # and her referrer a fifth of that while Ann is younger than 30 days.
    results = {}
    for days in (29.9, 30.0):
        snapshots = Snapshots()
        ScenarioRun(parse_scenario(referral_scenario(days))).run([snapshots])
        results[days] = snapshots.steps[-1]

    assert results[29.9]["ann"] == (5.0, 59.0)
    assert results[29.9]["rita"] == (1.0, 10.0)
    assert results[30.0]["ann"] == (5.0, 59.0)
    assert results[30.0]["rita"] == (0.0, 0.0)


def test_time_only_moves_when_the_scenario_says_so() -> None:
    clock = SimulatedClock(start=1000.0)
    run = ScenarioRun(parse_scenario(referral_scenario(2.5)), clock=clock)

    run.run()

    assert clock() == 1000.0 + 2.5 * 86400
    assert run.simulation.users.created_at.tolist() == [1000.0] * 3


def test_steps_and_progress_are_reported() -> None:
    done: list[int] = []
    snapshots = Snapshots()

    run = ScenarioRun(parse_scenario(referral_scenario(1)))
    run.run([snapshots], on_step=done.append)

    assert run.step_count == 2
    assert done == [1, 2]
    assert len(snapshots.steps) == 3  # step 0 is the starting community


def test_csv_quotes_names_that_need_it() -> None:
    stream = io.StringIO()
    recorder = CsvRecorder(stream)

    recorder.record(0, ["plain", 'say "hi", ok'], np.array([1.5, 2.0]), np.array([0.1, 3.0]))

    assert stream.getvalue() == (
        'step,user,reputation,tokens\n0,plain,1.5,0.1\n0,"say ""hi"", ok",2.0,3.0\n'
    )


def test_history_stays_bounded_and_keeps_the_last_step() -> None:
    history = ReputationHistory(max_samples=4)

    for step in range(0, 23):
        history.record(step, ["a", "b"], np.array([step, 1.0]), np.zeros(2))

    steps = [sample.step for sample in history.samples()]
    assert len(steps) <= 5
    assert steps[0] == 0
    assert steps[-1] == 22
    gaps = np.diff(steps[:-1])
    assert (gaps == gaps[0]).all()  # evenly spaced, apart from the last step
    assert history.samples()[-1].gini == pytest.approx((22 - 1) / (2 * 23))


def test_progress_bar_redraws_only_when_the_percentage_changes() -> None:
    stream = io.StringIO()

    with ProgressBar(1000, stream) as bar:
        for done in range(1, 1001):
            bar.update(done)

    text = stream.getvalue()
    assert text.count("\r") == 101  # 0% to 100%
    assert text.endswith("[" + "#" * 30 + "] 100%  1000/1000\n")


def test_a_disabled_progress_bar_writes_nothing() -> None:
    stream = io.StringIO()

    with ProgressBar(10, stream, enabled=False) as bar:
        bar.update(5)

    assert stream.getvalue() == ""
