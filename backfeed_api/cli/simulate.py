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
    batch_specs,
    generate_scenario,
    run_batch,
    run_seeds,
)

from .batch_output import write_summary
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
      --csv run.csv --plot run.png
  backfeed simulate --users 200 --evaluations 5000 --runs 20 --jobs 2 \\
      --sweep article.stake=0.02,0.05 --summary runs.csv --plot runs.png"""

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
        type=override_argument,
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

    many = parser.add_argument_group(
        "many runs (a summary row per run, and a plot of medians and 10-90 % bands)"
    )
    many.add_argument(
        "--runs",
        type=_count(1),
        default=1,
        metavar="N",
        help="play N runs of the generated community, with seeds derived from --seed",
    )
    many.add_argument(
        "--sweep",
        action="append",
        type=_sweep,
        default=[],
        metavar="KEY=V1,V2,...",
        help="play every run with each value of a contract parameter (repeatable: every "
        "combination of the values)",
    )
    many.add_argument(
        "--jobs",
        type=_count(1),
        default=1,
        metavar="J",
        help="play the runs on J processes at once (default: 1); the results are the same",
    )
    many.add_argument(
        "--summary",
        metavar="PATH",
        help='write one CSV row per run here ("-": standard output; the default without --plot)',
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load or generate the scenario, run it with the requested recorders, draw the plot;
    or play a batch of runs (:func:`run_many`)."""
    if args.runs > 1 or args.sweep or args.summary is not None:
        return run_many(args)
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


def _source(args: argparse.Namespace) -> tuple[Community | None, Scenario | None, str]:
    """The generated community or the scenario file the arguments ask for (one of them is
    None), and a short title naming it."""
    overrides = dict(args.override)
    knobs = {name: vars(args)[name] for name in GENERATOR_OPTIONS if vars(args)[name] is not None}
    if args.scenario is None:
        community = Community(**knobs, overrides=overrides)
        title = f"{community.kind}: {community.users} users, seed {community.seed}"
        try:
            _warn_if_frozen(community)
        except ProtocolError as error:  # an unknown kind or a bad override
            raise CommandError(f"{title}: {error.message}") from error
        return community, None, title

    if knobs:
        given = ", ".join(f"--{name.replace('_', '-')}" for name in knobs)
        raise UsageError(f"{given} only apply without a scenario file")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        raise UsageError(str(error)) from error
    if overrides:
        scenario = dataclasses.replace(scenario, overrides={**scenario.overrides, **overrides})
    return None, scenario, args.scenario


def _scenario(args: argparse.Namespace) -> tuple[Scenario, str]:
    """The scenario the arguments ask for, and a short title naming it."""
    community, scenario, title = _source(args)
    if community is None:
        assert scenario is not None
        return scenario, title
    try:
        return generate_scenario(community), title
    except ScenarioError as error:
        raise UsageError(str(error)) from error
    except ProtocolError as error:  # an unknown kind or a bad override
        raise CommandError(f"{title}: {error.message}") from error


def run_many(args: argparse.Namespace) -> int:
    """Play every run of the batch (seeds times sweep points), on ``--jobs`` processes;
    write the summary and draw the bands."""
    community, scenario, title = _source(args)
    if args.csv is not None or args.snapshot_every is not None:
        raise UsageError("--csv records one run; with --runs, --sweep or --summary use --summary")
    if community is None and args.runs > 1:
        raise UsageError("--runs needs a generated community: a scenario file plays the same")
    names = [name for name, _ in args.sweep]
    if len(set(names)) != len(names):
        raise UsageError("each parameter may be swept once")
    seeds = run_seeds(community.seed, args.runs) if community is not None else []
    if community is not None:
        title = f"{community.kind}: {community.users} users, {args.runs} run(s) from seed "
        title += str(community.seed)
    specs = batch_specs(args.sweep, seeds, community=community, scenario=scenario)
    for spec in specs:
        try:
            spec.check()
        except ProtocolError as error:
            raise CommandError(f"{title}: {error.message}") from error
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    with ProgressBar(len(specs), sys.stderr, enabled=show_progress) as bar:
        try:
            results = run_batch(specs, jobs=args.jobs, on_done=bar.update)
        except ScenarioError as error:
            raise UsageError(f"{title}: {error}") from error
    if args.summary is not None or args.plot is None:
        with ExitStack() as stack:
            stream = _output_stream(args.summary, "summary", stack)
            write_summary(stream, results, names)
    if args.plot is not None:
        from .plot import draw_bands

        try:
            draw_bands(results, args.plot, title=title)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot write the plot {args.plot}: {error}") from error
    return 0


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
    return _output_stream(args.csv, "CSV", stack)


def _output_stream(path: str | None, what: str, stack: ExitStack) -> TextIO:
    """The file ``path`` opened for writing, or standard output for None or ``-``."""
    if path is None or path == "-":
        return sys.stdout
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8", newline=""))
    except OSError as error:
        raise CommandError(f"cannot write the {what} {path}: {error.strerror}") from error


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


def _sweep(text: str) -> tuple[str, list[Any]]:
    """An argparse type: ``KEY=V1,V2,...`` with numbers or booleans, at least one value."""
    key, equals, values = text.partition("=")
    if not equals or not key.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=V1,V2,...")
    try:
        parsed = [parse_override(value) for value in values.split(",")]
    except ProtocolError as error:
        raise argparse.ArgumentTypeError(error.message) from None
    return key.strip(), parsed


def override_argument(text: str) -> tuple[str, Any]:
    """An argparse type: ``KEY=VALUE`` with a number or boolean value."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        return key.strip(), parse_override(value)
    except ProtocolError as error:
        raise argparse.ArgumentTypeError(error.message) from None
