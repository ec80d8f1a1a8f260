"""Mistakes give a one-line message naming the culprit and an exit code, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SCENARIOS, Runner


def document(**parts: Any) -> str:
    """A JSON scenario for the example kind with users ann (10 tokens) and bob, and ``parts``."""
    users = [{"name": "ann", "tokens": 10}, {"name": "bob"}]
    return json.dumps({"contract": "example", "users": users, **parts})


def evaluate(contribution: str, value: Any) -> dict[str, Any]:
    """A step where bob votes ``value`` on ``contribution``."""
    return {"evaluate": {"evaluator": "bob", "contribution": contribution, "value": value}}


BAD_FILES = [
    pytest.param("s.txt", "contract: example", "unsupported file type '.txt'", id="extension"),
    pytest.param("s.json", '{"contract": "example",', "invalid JSON", id="json-syntax"),
    pytest.param("s.yaml", "contract: [example", "invalid YAML", id="yaml-syntax"),
    pytest.param("s.yaml", "", "the scenario: must be a mapping", id="empty"),
    pytest.param("s.json", '{"users": []}', "'contract' is required", id="no-contract"),
    pytest.param("s.json", document(user=[]), "unknown key 'user'", id="unknown-key"),
    pytest.param(
        "s.json",
        document(users=[{"name": "ann", "tokens": "ten"}]),
        "users[0] ('ann'): 'tokens' must be a number, not 'ten'",
        id="tokens-text",
    ),
    pytest.param(
        "s.json",
        document(steps=[{"join": {"name": "cy"}}, {"evaluate": {}}]),
        "step 2 (evaluate): 'evaluator' is required",
        id="missing-field",
    ),
    pytest.param(
        "s.json",
        document(steps=[{"join": {"name": "cy"}, "advance_days": 1}]),
        "step 1: must be a mapping with exactly one of",
        id="two-actions",
    ),
    pytest.param(
        "s.yaml",
        "contract: example\nsteps:\n  - advance_days: -1\n",
        "step 1 (advance_days): must be a number of days, at least 0, not -1",
        id="negative-days",
    ),
    pytest.param(
        "s.json",
        document(steps=[evaluate("c9", 1)]),
        "step 1 (evaluate): there is no contribution 'c9' at this point",
        id="unknown-contribution",
    ),
    pytest.param(
        "s.json",
        document(steps=[{"join": {"name": "ann"}}]),
        "step 1 (join): there is already a user called 'ann'",
        id="duplicate-user",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES)
def test_a_malformed_scenario_is_a_usage_error(
    backfeed: Runner, write_file: Callable[[str, str], Path], name: str, text: str, message: str
) -> None:
    path = write_file(name, text)

    outcome = backfeed("simulate", path)

    assert outcome.code == 2
    assert outcome.err.startswith(f"backfeed simulate: error: {path}: ")
    assert message in outcome.err
    assert outcome.err.count("\n") == 1


def test_a_missing_file_is_a_usage_error(backfeed: Runner, tmp_path: Path) -> None:
    outcome = backfeed("simulate", tmp_path / "nowhere.yaml")

    assert outcome.code == 2
    assert "cannot read the file: No such file or directory" in outcome.err


REFUSED = [
    pytest.param(
        document(steps=[{"contribute": {"name": "c1", "contributor": "ann", "type": "video"}}]),
        "step 1 (contribute): unknown contribution type 'video'; this contract has: "
        "article, comment",
        id="unknown-type",
    ),
    pytest.param(
        document(contributions=[{"name": "c1", "contributor": "ann"}], steps=[evaluate("c1", 5)]),
        "step 1 (evaluate): value 5 is not allowed for article; use one of: 0, 1",
        id="bad-vote",
    ),
    pytest.param(
        document(
            users=[{"name": "ann", "tokens": 0.5}],
            contributions=[{"name": "c1", "contributor": "ann"}],
        ),
        "contribution 'c1': the contributor has 0.5 tokens and a article costs 1",
        id="cannot-pay",
    ),
    pytest.param(
        document(users=[{"name": "ann", "reputation": -1}]),
        "user 'ann': reputation may not be negative",
        id="negative-reputation",
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_an_action_the_engine_refuses_is_a_problem(
    backfeed: Runner, write_file: Callable[[str, str], Path], text: str, message: str
) -> None:
    path = write_file("refused.json", text)

    outcome = backfeed("simulate", path)

    assert outcome.code == 1
    assert outcome.err == f"backfeed simulate: error: {path}: {message}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"contract": "nosuchkind"}', "unknown contract kind 'nosuchkind'; installed kinds: "),
        ('{"contract": "example", "overrides": {"gamma": 1}}', "unknown contract parameter"),
    ],
)
def test_a_contract_that_cannot_be_made_is_a_problem(
    backfeed: Runner, write_file: Callable[[str, str], Path], text: str, message: str
) -> None:
    outcome = backfeed("simulate", write_file("contract.json", text))

    assert outcome.code == 1
    assert message in outcome.err
    assert outcome.err.count("\n") == 1


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["--users", "0"], id="no-users"),
        pytest.param(["--vote-probability", "1.5"], id="probability"),
        pytest.param(["--evaluations", "many"], id="not-a-number"),
        pytest.param(["--override", "alpha"], id="override-without-value"),
        pytest.param(["--no-such-option"], id="unknown-option"),
        pytest.param([str(SCENARIOS / "scenario1.yaml"), "--seed", "0"], id="file-and-seed"),
        pytest.param(["--contributions", "0", "--evaluations", "3"], id="nothing-to-evaluate"),
    ],
)
def test_bad_options_are_usage_errors(backfeed: Runner, arguments: list[str]) -> None:
    outcome = backfeed("simulate", *arguments)

    assert outcome.code == 2
    assert "error:" in outcome.err
    assert outcome.out == ""


def test_an_unwritable_csv_is_a_problem(backfeed: Runner, tmp_path: Path) -> None:
    outcome = backfeed("simulate", "--csv", tmp_path / "missing" / "out.csv")

    assert outcome.code == 1
    assert "cannot write the CSV" in outcome.err


def test_a_plot_format_matplotlib_does_not_know_is_a_problem(
    backfeed: Runner, tmp_path: Path
) -> None:
    outcome = backfeed("simulate", "--users", "3", "--plot", tmp_path / "plot.nosuchformat")

    assert outcome.code == 1
    assert "cannot write the plot" in outcome.err
    assert outcome.err.count("\n") == 1
