"""``backfeed initdb <ini>``: create or upgrade the database schema and the contract rows."""

from __future__ import annotations

import argparse

from .appconfig import add_ini_argument, database


def register(subparsers) -> None:
    """Add the ``initdb`` subcommand."""
    parser = subparsers.add_parser(
        "initdb",
        help="create or upgrade the database schema",
        description="Apply the Alembic migrations up to the newest and register the "
        "contracts listed in the settings. Safe to run again.",
    )
    add_ini_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Migrate the database named by the settings."""
    from ..clock import utc_now
    from ..domain.catalog import load_catalog
    from ..migrations import upgrade_database
    from ..models import get_session_factory

    with database(args.ini) as (settings, engine):
        upgrade_database(engine)
        with get_session_factory(engine)() as session, session.begin():
            catalog = load_catalog(session, settings, utc_now())
        where = engine.url.render_as_string(hide_password=True)
    names = ", ".join(contract.name for contract in catalog)
    print(f"database {where} is up to date; contracts: {names}")
    return 0
