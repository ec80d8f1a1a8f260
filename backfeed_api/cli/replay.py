"""``backfeed replay <ini> --contract C --override KEY=VALUE``: a real community, other rules.

Reads the contract's committed actions from one consistent snapshot of the database (it
never takes the contract's lock, so the service goes on serving), replays them in memory
under the contract's parameters with the overrides on top (:mod:`~..domain.replay`), and
reports each user's actual and what-if balances, the Gini coefficients, the users who gain
and lose most and the actions the new rules refuse.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack

from protocol.errors import ProtocolError

from .appconfig import add_ini_argument, database
from .errors import EXIT_OK, CommandError, UsageError
from .progress import ProgressBar
from .simulate import override_argument

EPILOG = """\
examples:
  backfeed replay production.ini --contract example --override article.stake=0.05
  backfeed replay production.ini --contract example --override alpha=0.7 \\
      --override max_vote_changes=1 --csv users.csv --plot what-if.png"""


def register(subparsers) -> None:
    """Add the ``replay`` subcommand."""
    parser = subparsers.add_parser(
        "replay",
        help="replay a contract's real history under other parameters (what if)",
        description="Replay every action of a contract, in commit order, in memory under "
        "its parameters with --override on top, and compare the outcome with its users' "
        "actual balances. With no override the replay gives the actual balances. Nothing "
        "is written to the database.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_ini_argument(parser)
    parser.add_argument("--contract", required=True, help="the contract to replay")
    parser.add_argument(
        "--override",
        action="append",
        type=override_argument,
        default=[],
        metavar="KEY=VALUE",
        help="change a contract parameter, e.g. alpha=0.7 or article.stake=0.05 (repeatable)",
    )
    parser.add_argument(
        "--csv", metavar="PATH", help='write every user\'s balances here ("-": stdout)'
    )
    parser.add_argument("--plot", metavar="PATH", help="draw the Lorenz curves and users (PNG)")
    parser.add_argument(
        "--top", type=int, default=10, metavar="N", help="users listed who gain and lose most"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show a progress bar on standard error (default: when it is a terminal)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay the contract and print the report; write the CSV and the plot if asked."""
    from ..clock import utc_now
    from ..domain.catalog import load_catalog
    from ..domain.replay import what_if
    from ..domain.replay_report import draw_what_if, report_text, what_if_title, write_users_csv
    from ..models import dialect_of, get_session_factory

    if args.top < 0:
        raise UsageError("--top must be at least 0")
    if args.json and args.csv == "-":
        raise UsageError("--json and --csv - would both go to standard output")
    overrides = dict(args.override)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    with database(args.ini) as (settings, engine):
        snapshot = dialect_of(engine).snapshot(engine)  # one view while writers run
        with get_session_factory(snapshot)() as session, session.begin():
            contract = load_catalog(session, settings, utc_now(), follow=False).get(args.contract)
            if contract is None:
                raise UsageError(f"no contract {args.contract!r} in {args.ini}")
            with ProgressBar(1, sys.stderr, enabled=show_progress) as bar:

                def progress(done: int, total: int) -> None:
                    bar.total = max(total, 1)
                    bar.update(done)

                try:
                    result = what_if(session, contract.row_id, contract.rules, overrides, progress)
                except ProtocolError as error:
                    raise UsageError(f"--override: {error.message}") from error
    summary = result.summary(top=args.top)
    if args.json:
        print(json.dumps(summary, indent=2))
    elif args.csv != "-":
        sys.stdout.write(report_text(args.contract, summary))
    with ExitStack() as stack:
        if args.csv is not None:
            stream = sys.stdout
            if args.csv != "-":
                try:
                    stream = stack.enter_context(open(args.csv, "w", encoding="utf-8", newline=""))
                except OSError as error:
                    raise CommandError(
                        f"cannot write the CSV {args.csv}: {error.strerror}"
                    ) from error
            write_users_csv(stream, result)
    if args.plot is not None:
        try:
            draw_what_if(result, args.plot, title=what_if_title(args.contract, overrides))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot write the plot {args.plot}: {error}") from error
    return EXIT_OK
