"""``backfeed check <ini>``: verify that the books of every contract balance."""

from __future__ import annotations

import argparse

from .appconfig import add_ini_argument, database
from .errors import EXIT_OK, EXIT_PROBLEM, UsageError


def register(subparsers) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="verify totals, ledger and history of the contracts",
        description="Check (a) stored totals against the users, (b) balances against the "
        "ledger, (c) balances against a replay of the history, (d) duplicate active votes, "
        "NaN and negative balances. Exit 1 and print each drift if any.",
    )
    add_ini_argument(parser)
    parser.add_argument("--contract", help="check only this contract")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Audit the contracts and print a report."""
    from ..clock import utc_now
    from ..domain.audit import audit
    from ..domain.catalog import load_catalog
    from ..models import dialect_of, get_session_factory

    findings = []
    checked = []
    with database(args.ini) as (settings, engine):
        engine = dialect_of(engine).snapshot(engine)  # one consistent view while writers run
        with get_session_factory(engine)() as session, session.begin():
            catalog = load_catalog(session, settings, utc_now(), follow=False)
            contracts = list(catalog)
            if args.contract:
                contracts = [c for c in contracts if c.name == args.contract]
                if not contracts:
                    raise UsageError(f"no contract {args.contract!r} in {args.ini}")
            for contract in contracts:
                checked.append(contract.name)
                findings += audit(session, contract)
    for finding in findings:
        print(finding)
    verdict = "FAILED" if findings else "ok"
    print(f"checked {', '.join(checked)}: {len(findings)} problem(s): {verdict}")
    return EXIT_PROBLEM if findings else EXIT_OK
