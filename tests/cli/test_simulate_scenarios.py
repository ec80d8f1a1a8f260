"""``backfeed simulate`` on the shipped scenario files reproduces the reference
scenarios' numbers (``tests/scenario_tables.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import BACKFEED, SCENARIOS, Runner, dense_balances, final_balances

# Reference scenario 4: reputation of users 1-5 and tokens of users 2 and 3 after votes 1-10.
SCENARIO_4 = """
19.7788854382 20 20 20 20 49 49
19.7788854382 19.8525613977 20 20 20 49 49
20.1972438528 19.8525613977 19.9094563837 20 20 49 49
20.1972438528 19.8525613977 19.9094563837 19.7789218868 20 49 49
20.1972438528 19.8525613977 19.9094563837 19.7789218868 19.8526130418 49 49
20.1063878036 19.8525613977 19.9094563837 20.2009009717 19.8526130418 49 49
20.4790529214 22.7586066615 20.2784714441 20.2009009717 19.8526130418 78.957593802 49
20.4790529214 22.7586066615 20.1905096878 20.2009009717 19.8526130418 78.957593802 49
20.8494436949 23.2396740211 20.1905096878 20.1600844471 19.8526130418 79.6520722031 49
21.2226262413 23.2396740211 23.1083725912 20.5209282068 19.7588766359 79.6520722031 78.1786290345
"""


def test_scenario_1_to_stdout(backfeed: Runner) -> None:
    outcome = backfeed("simulate", SCENARIOS / "scenario1.yaml")

    assert outcome.code == 0, outcome.err
    balances = final_balances(outcome.out)
    assert balances["bonnie"][0] == pytest.approx(99.90692517849118, abs=1e-9)
    assert balances["ann"] == pytest.approx((14.545454545454545, 54.45454545454545), abs=1e-9)


def test_scenario_1_csv_file_has_the_starting_community_as_step_0(
    backfeed: Runner, tmp_path: Path
) -> None:
    out = tmp_path / "scenario1.csv"

    outcome = backfeed("simulate", SCENARIOS / "scenario1.yaml", "--csv", out)

    assert outcome.code == 0, outcome.err
    assert outcome.out == ""
    assert out.read_text(encoding="utf-8").splitlines() == [
        "step,user,reputation,tokens",
        "0,ann,10.0,9.0",
        "0,bonnie,100.0,99.0",
        "1,ann,14.545454545454545,54.45454545454545",
        "1,bonnie,99.90692517849118,99.0",
    ]


def test_scenario_4_every_step(backfeed: Runner, tmp_path: Path) -> None:
    out = tmp_path / "scenario4.csv"

    outcome = backfeed("simulate", SCENARIOS / "scenario4.json", "--csv", out)

    assert outcome.code == 0, outcome.err
    steps = dense_balances(out.read_text(encoding="utf-8"))
    for step, line in enumerate(SCENARIO_4.strip().splitlines(), start=1):
        expected = [float(number) for number in line.split()]
        reputation = [steps[step][f"user{i}"][0] for i in range(1, 6)]
        tokens = [steps[step][f"user{i}"][1] for i in (2, 3)]
        assert reputation + tokens == pytest.approx(expected, abs=1e-9), f"step {step}"
        for i in (1, 4, 5):
            assert steps[step][f"user{i}"][1] == 50


def test_console_script_runs_scenario_1() -> None:
    result = subprocess.run(
        [BACKFEED, "simulate", SCENARIOS / "scenario1.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "1,bonnie,99.90692517849118,99.0" in result.stdout.splitlines()


def test_console_script_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"contract": "example", "steps": [{"vote": {}}]}', encoding="utf-8")

    result = subprocess.run(
        [BACKFEED, "simulate", bad], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "step 1: unknown action 'vote'" in result.stderr
    assert "Traceback" not in result.stderr
