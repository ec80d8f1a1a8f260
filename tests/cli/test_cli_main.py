"""The ``backfeed`` entry point: help, usage errors, and light imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backfeed_api.cli import SUBCOMMANDS, build_parser

from .conftest import Runner


@pytest.mark.parametrize("argv", [["--help"], ["simulate", "--help"]])
def test_help_exits_0(backfeed: Runner, argv: list[str]) -> None:
    outcome = backfeed(*argv)

    assert outcome.code == 0
    assert outcome.out.startswith("usage: backfeed")
    assert outcome.err == ""


def test_help_lists_every_subcommand(backfeed: Runner) -> None:
    outcome = backfeed("--help")

    for module in SUBCOMMANDS:
        assert module.__name__.rsplit(".", 1)[-1] in outcome.out


@pytest.mark.parametrize("argv", [[], ["nosuchcommand"]])
def test_a_missing_or_unknown_command_is_a_usage_error(backfeed: Runner, argv: list[str]) -> None:
    outcome = backfeed(*argv)

    assert outcome.code == 2
    assert "usage: backfeed" in outcome.err


def test_every_subcommand_sets_its_function() -> None:
    parser = build_parser()

    args = parser.parse_args(["simulate"])

    assert callable(args.func)


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backfeed_api.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0
    assert "simulate" in result.stdout


def test_the_cli_imports_no_web_framework_database_or_plotting() -> None:
    # backfeed_api itself is the web application's package, so its own imports are counted
    # out: the CLI must not add pyramid, SQLAlchemy or matplotlib to them.
    probe = (
        "import sys, backfeed_api\n"
        "before = set(sys.modules)\n"
        "import backfeed_api.cli\n"
        "heavy = ('pyramid', 'cornice', 'sqlalchemy', 'matplotlib', 'yaml')\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"
