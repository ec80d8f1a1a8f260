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


def final_balances(text: str) -> dict[str, tuple[float, float]]:
    """From a simulate CSV: each user's (reputation, tokens) at the last step."""
    rows = list(csv.DictReader(io.StringIO(text)))
    last = max(int(row["step"]) for row in rows)
    return {
        row["user"]: (float(row["reputation"]), float(row["tokens"]))
        for row in rows
        if int(row["step"]) == last
    }
