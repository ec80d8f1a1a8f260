"""Many runs: Monte-Carlo seeds, parameter sweeps, their summary and plot, in parallel."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from matplotlib.image import imread

from backfeed_api.cli.batch_output import COMMUNITY_COLUMNS, RESULT_COLUMNS
from protocol.scenarios import run_seeds, sweep_grid

from .conftest import SCENARIOS, Runner

SMALL = ("--users", "15", "--contributions", "6", "--evaluations", "120")
BATCH = (*SMALL, "--runs", "3", "--sweep", "beta=0.2,0.6", "--sweep", "article.fee=1,2")


def summary(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_sweep_plays_every_combination_with_every_seed(backfeed: Runner) -> None:
    outcome = backfeed("simulate", *BATCH, "--seed", "4")

    assert outcome.code == 0, outcome.err
    rows = summary(outcome.out)
    assert [row["run"] for row in rows] == [str(i) for i in range(12)]
    points = [(row["beta"], row["article.fee"]) for row in rows]
    assert sorted(set(points)) == [("0.2", "1"), ("0.2", "2"), ("0.6", "1"), ("0.6", "2")]
    assert all(points.count(point) == 3 for point in set(points))
    seeds = [row["seed"] for row in rows]
    assert seeds[:3] == [str(seed) for seed in run_seeds(4, 3)]
    assert seeds == seeds[:3] * 4  # every point of the sweep sees the same communities
    assert len(set(seeds[:3])) == 3
    assert rows[0]["overrides"] == "beta=0.2 article.fee=1"
    assert rows[0]["gini"] != rows[1]["gini"]  # another seed, another community


def test_the_grid_is_the_cartesian_product() -> None:
    grid = sweep_grid([("a", [1, 2, 3]), ("b", [True, False])])

    assert grid == [{"a": a, "b": b} for a in (1, 2, 3) for b in (True, False)]
    assert sweep_grid([]) == [{}]


def test_parallel_runs_give_the_serial_results(backfeed: Runner) -> None:
    serial = backfeed("simulate", *BATCH, "--jobs", "1")
    parallel = backfeed("simulate", *BATCH, "--jobs", "2")

    assert serial.code == parallel.code == 0, serial.err + parallel.err
    assert parallel.out == serial.out


def test_a_run_is_played_again_from_its_row(backfeed: Runner) -> None:
    batch = backfeed("simulate", *BATCH, "--override", "alpha=0.4", "--seed", "9")
    assert batch.code == 0, batch.err
    row = summary(batch.out)[10]

    argv = ["simulate"]
    for column in COMMUNITY_COLUMNS:
        if row[column]:
            argv += [f"--{column.replace('_', '-')}", row[column]]
    for override in row["overrides"].split():
        argv += ["--override", override]
    again = backfeed(*argv, "--summary", "-")

    assert again.code == 0, again.err
    (replayed,) = summary(again.out)
    assert {column: replayed[column] for column in RESULT_COLUMNS} == {
        column: row[column] for column in RESULT_COLUMNS
    }


def test_refused_steps_are_counted_and_the_run_goes_on(backfeed: Runner) -> None:
    # Users hold 50 tokens: an article costing 60 is refused, and so are the votes on it.
    outcome = backfeed("simulate", *SMALL, "--sweep", "article.fee=1,60")

    assert outcome.code == 0, outcome.err
    cheap, dear = summary(outcome.out)
    assert cheap["refused_contributions"] == cheap["refused_evaluations"] == "0"
    assert dear["refused_contributions"] == "6"
    assert dear["refused_evaluations"] == "120"
    assert float(dear["tokens_issued"]) == 0.0 < float(cheap["tokens_issued"])


def test_a_scenario_file_can_be_swept(backfeed: Runner) -> None:
    outcome = backfeed("simulate", SCENARIOS / "scenario1.yaml", "--sweep", "beta=0.2,0.9")

    assert outcome.code == 0, outcome.err
    low, high = summary(outcome.out)
    assert (low["kind"], low["seed"], low["beta"]) == ("example", "", "0.2")
    assert low["total_reputation"] != high["total_reputation"]


def test_the_bands_are_plotted(backfeed: Runner, tmp_path: Path) -> None:
    plot = tmp_path / "bands.png"

    outcome = backfeed("simulate", *BATCH, "--plot", plot)

    assert outcome.code == 0, outcome.err
    assert outcome.out == ""  # the summary goes to stdout only without --plot
    height, width, _ = imread(plot).shape
    assert (width, height) == (1000, 700)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((*BATCH, "--csv", "-"), "--csv records one run"),
        ((str(SCENARIOS / "scenario1.yaml"), "--runs", "2"), "--runs needs a generated"),
        ((*SMALL, "--sweep", "beta=0.1", "--sweep", "beta=0.2"), "swept once"),
        ((*SMALL, "--sweep", "beta=0.1,x"), "not a number"),
        ((*SMALL, "--sweep", "beta="), "KEY=V1,V2"),
        ((*SMALL, "--runs", "0"), "at least 1"),
        ((*SMALL, "--jobs", "0"), "at least 1"),
    ],
)
def test_bad_batches_are_usage_errors(
    backfeed: Runner, arguments: tuple[str, ...], message: str
) -> None:
    outcome = backfeed("simulate", *arguments)

    assert outcome.code == 2, outcome.err
    assert message in outcome.err


def test_a_bad_swept_value_stops_before_any_run(backfeed: Runner) -> None:
    outcome = backfeed("simulate", *SMALL, "--sweep", "beta=0.2,-1")

    assert outcome.code == 1
    assert "beta must be at least 0" in outcome.err
    assert outcome.out == ""
