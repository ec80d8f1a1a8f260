"""Fixtures for the command-line tests: running ``backfeed`` in-process and locating files."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from backfeed_api.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]
SCENARIOS = REPOSITORY / "examples" / "scenarios"
BACKFEED = Path(sys.executable).parent / "backfeed"
"""The console script installed next to the interpreter running the tests."""


@dataclass(frozen=True)
class Outcome:
    """What one ``backfeed`` invocation did."""

    code: int
    out: str
    err: str


Runner = Callable[..., Outcome]


@pytest.fixture
def backfeed(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Call ``main`` with the given arguments and collect its exit code and output."""

    def run(*argv: str | Path) -> Outcome:
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to a file called ``name`` in a fresh directory; return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def dense_balances(text: str, last: int | None = None) -> list[dict[str, tuple[float, float]]]:
    """From a simulate CSV: every user's (reputation, tokens) after each step up to ``last``
    (default: the last step with a row), by step.

    A user's balances at a step are those of its last row up to it (the CSV records what
    changed), so this fills in the steps that left a user's balances alone.
    """
    rows = list(csv.DictReader(io.StringIO(text)))
    if last is None:
        last = max(int(row["step"]) for row in rows)
    steps: list[dict[str, tuple[float, float]]] = []
    current: dict[str, tuple[float, float]] = {}
    index = 0
    for step in range(last + 1):
        while index < len(rows) and int(rows[index]["step"]) == step:
            row = rows[index]
            current[row["user"]] = (float(row["reputation"]), float(row["tokens"]))
            index += 1
        steps.append(dict(current))
    assert index == len(rows), "the rows are not in step order"
    return steps


def final_balances(text: str) -> dict[str, tuple[float, float]]:
    """From a simulate CSV: each user's (reputation, tokens) at the last step."""
    return dense_balances(text)[-1]
