"""``backfeed demo <ini>``: seed a contract with a demo community, through the domain."""

from __future__ import annotations

import argparse

from .appconfig import add_ini_argument, database
from .errors import EXIT_OK, UsageError


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="seed a contract with demo users, contributions and votes",
        description="Seed a contract with a realistic community: users who can log in (their "
        "passwords are printed once, here), contributions of every type, votes that agree "
        "and that dissent, a few changes of mind. Every action goes through the service's "
        "own rules, so `backfeed check` finds the books balanced.",
    )
    add_ini_argument(parser)
    parser.add_argument("--contract", help="the contract to seed (default: the first served)")
    parser.add_argument(
        "--users", type=int, default=15, help="how many users to create (default 15)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Seed the contract and print the logins."""
    from ..api.outbox import ActionEvents
    from ..clock import utc_now
    from ..domain.catalog import load_catalog
    from ..domain.demo import seed_community
    from ..models import get_session_factory

    if not 2 <= args.users <= 10_000:
        raise UsageError("--users must be from 2 to 10000")
    with (
        database(args.ini) as (settings, engine),
        get_session_factory(engine)() as session,
        session.begin(),
    ):
        now = utc_now()
        contracts = list(load_catalog(session, settings, now))
        chosen = [c for c in contracts if args.contract in (None, c.name)][:1]
        if not chosen:
            raise UsageError(f"no contract {args.contract!r} in {args.ini}")
        contract = chosen[0]
        recorder = ActionEvents(session, contract)
        community = seed_community(session, contract, now, recorder, args.users, args.seed)
    print(
        f"seeded {contract.name}: {len(community.logins)} users, {community.contributions} "
        f"contributions, {community.evaluations} evaluations"
    )
    print(f"log in with POST /{contract.name}/auth as one of (shown this once):")
    for login in community.logins:
        print(f"  user {login.user_id}: {login.username} / {login.password}")
    return EXIT_OK
