"""``backfeed simulate``: run a scenario file or a generated community through a contract.

The work is done by :mod:`protocol.scenarios`; this module only turns command-line
arguments into calls to it and its errors into messages and exit codes.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TextIO

from protocol.errors import ProtocolError
from protocol.parameters import parse_override
from protocol.scenarios import (
    Community,
    Recorder,
    ReputationHistory,
    Scenario,
    ScenarioError,
    ScenarioRun,
    StepRefused,
    generate_scenario,
)

from .csv_recorder import CsvRecorder
from .errors import CommandError, UsageError
from .progress import ProgressBar
from .scenario_files import load_scenario

DESCRIPTION = """\
Run a community through a contract kind in memory and record every user's reputation and
tokens after every step.

Give either a scenario file (JSON or YAML; see examples/scenarios/) or no file and the
options below to generate a random community, reproducible with --seed.

The CSV has the columns step,user,reputation,tokens and records what changed: a row for
every user at step 0 (the starting community), then a row for each user whose balances a
step moved; a user's balances at any step are those of its last row up to that step.
--snapshot-every N adds a row for every user at every N-th step. The CSV goes to --csv PATH
("-" for standard output); when neither --csv nor --plot is given it goes to standard
output."""

EPILOG = """\
examples:
  backfeed simulate examples/scenarios/scenario1.yaml
  backfeed simulate --kind example --users 200 --evaluations 5000 --seed 7 \\
      --csv run.csv --plot run.png"""

GENERATOR_OPTIONS = (
    "kind",
    "users",
    "contributions",
    "evaluations",
    "vote_probability",
    "seed",
    "initial_reputation",
)


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to the ``backfeed`` parser."""
    defaults = Community()
    parser = subparsers.add_parser(
        "simulate",
        help="run a scenario or a generated community in memory; write CSV and plots",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        metavar="SCENARIO",
        help="scenario file (.json, .yaml or .yml); without it a community is generated",
    )
    parser.add_argument(
        "--override",
        action="append",
        type=_override,
        default=[],
        metavar="KEY=VALUE",
        help="change a contract parameter, e.g. alpha=0.7 or article.fee=2 (repeatable; "
        "applies on top of a scenario file's overrides)",
    )

    generated = parser.add_argument_group("generated community (only without SCENARIO)")
    generated.add_argument("--kind", help=f"installed contract kind (default: {defaults.kind})")
    generated.add_argument(
        "--users", type=_count(1), metavar="N", help=f"number of users (default: {defaults.users})"
    )
    generated.add_argument(
        "--contributions",
        type=_count(0),
        metavar="N",
        help=f"number of contributions (default: {defaults.contributions})",
    )
    generated.add_argument(
        "--evaluations",
        type=_count(0),
        metavar="N",
        help=f"number of evaluations (default: {defaults.evaluations})",
    )
    generated.add_argument(
        "--vote-probability",
        type=_probability,
        metavar="P",
        help=f"probability that a vote is 1 rather than 0 (default: {defaults.vote_probability})",
    )
    generated.add_argument(
        "--seed",
        type=int,
        help=f"seed of the random generator; a seed always gives the same run "
        f"(default: {defaults.seed})",
    )

    generated.add_argument(
        "--initial-reputation",
        type=_amount,
        metavar="R",
        help="every user's starting reputation (default: the kind's user_initial_reputation; "
        "dmag's is 0, with which no vote moves anything)",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--csv", metavar="PATH", help='write the CSV here ("-": standard output)')
    output.add_argument(
        "--snapshot-every",
        type=_count(1),
        metavar="N",
        help="also write every user's balances at every N-th step (default: only changes)",
    )
    output.add_argument(
        "--plot",
        metavar="PATH",
        help="draw reputation of the top users and the Gini coefficient over steps (PNG)",
    )
    output.add_argument(
        "--top",
        type=_count(1),
        default=10,
        metavar="N",
        help="users shown in the plot (default: 10)",
    )
    output.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show a progress bar on standard error (default: when it is a terminal)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load or generate the scenario, run it with the requested recorders, draw the plot."""
    scenario, title = _scenario(args)
    try:
        simulation = ScenarioRun(scenario)
    except ProtocolError as error:  # an unknown kind or a bad override
        raise CommandError(f"{title}: {error.message}") from error
    history = ReputationHistory() if args.plot else None
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    with ExitStack() as stack:
        recorders: list[Recorder] = [] if history is None else [history]
        stream = _csv_stream(args, stack)
        if stream is not None:
            recorders.append(CsvRecorder(stream, snapshot_every=args.snapshot_every))
        bar = stack.enter_context(
            ProgressBar(simulation.step_count, sys.stderr, enabled=show_progress)
        )
        try:
            simulation.run(recorders, on_step=bar.update)
        except StepRefused as error:
            raise CommandError(f"{title}: {error}") from error
        except ScenarioError as error:
            raise UsageError(f"{title}: {error}") from error
    if history is not None:
        from .plot import draw

        try:
            draw(history, args.plot, top=args.top, title=title)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot write the plot {args.plot}: {error}") from error
    return 0


def _scenario(args: argparse.Namespace) -> tuple[Scenario, str]:
    """The scenario the arguments ask for, and a short title naming it."""
    overrides = dict(args.override)
    knobs = {name: vars(args)[name] for name in GENERATOR_OPTIONS if vars(args)[name] is not None}
    if args.scenario is None:
        community = Community(**knobs, overrides=overrides)
        title = f"{community.kind}: {community.users} users, seed {community.seed}"
        try:
            scenario = generate_scenario(community)
            _warn_if_frozen(community)
        except ScenarioError as error:
            raise UsageError(str(error)) from error
        except ProtocolError as error:  # an unknown kind or a bad override
            raise CommandError(f"{title}: {error.message}") from error
        return scenario, title

    if knobs:
        given = ", ".join(f"--{name.replace('_', '-')}" for name in knobs)
        raise UsageError(f"{given} only apply without a scenario file")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        raise UsageError(str(error)) from error
    if overrides:
        scenario = dataclasses.replace(scenario, overrides={**scenario.overrides, **overrides})
    return scenario, args.scenario


def _warn_if_frozen(community: Community) -> None:
    """Say why nothing will move when every generated user starts without reputation."""
    if community.evaluations and community.starting_reputation() == 0:
        print(
            f"backfeed simulate: warning: every user starts with 0 reputation "
            f"({community.kind}'s user_initial_reputation), so no vote can move any balance "
            f"and every line stays flat; give them some with --initial-reputation R",
            file=sys.stderr,
        )


def _csv_stream(args: argparse.Namespace, stack: ExitStack) -> TextIO | None:
    """Where the CSV goes: the --csv file, standard output, or nowhere."""
    if args.csv is None:
        return None if args.plot else sys.stdout
    if args.csv == "-":
        return sys.stdout
    try:
        return stack.enter_context(open(args.csv, "w", encoding="utf-8", newline=""))
    except OSError as error:
        raise CommandError(f"cannot write the CSV {args.csv}: {error.strerror}") from error


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}")
        return number

    return parse


def _probability(text: str) -> float:
    """An argparse type: a number between 0 and 1."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return number


def _amount(text: str) -> float:
    """An argparse type: a finite number, at least 0."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number, at least 0, not {text}")
    return number


def _override(text: str) -> tuple[str, Any]:
    """An argparse type: ``KEY=VALUE`` with a number or boolean value."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        return key.strip(), parse_override(value)
    except ProtocolError as error:
        raise argparse.ArgumentTypeError(error.message) from None
