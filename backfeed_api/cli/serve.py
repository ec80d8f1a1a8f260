"""``backfeed serve``: run the service without an ini file, e.g. after ``pip install``.

It uses the development defaults (an SQLite file in the current directory, the schema
created at start-up, every installed contract kind) and serves on 127.0.0.1:6543 with
waitress. For production use ``pserve production.ini`` behind a reverse proxy.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the service with development defaults",
        description="Serve the API with waitress on 127.0.0.1 using an SQLite file "
        "(created if needed). BACKFEED_DATABASE_URL, when set, takes precedence.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=6543, help="port to listen on")
    parser.add_argument(
        "--database",
        default="backfeed.sqlite",
        help="SQLite file to use (default: backfeed.sqlite in the current directory)",
    )
    parser.add_argument("--contracts", help="contracts to serve, e.g. 'example mag2:dmag'")
    parser.add_argument(
        "--dev-admin-token",
        metavar="TOKEN",
        help="a development token that is admin of every contract (backfeed.dev_admin_token); "
        "without it, writes need a token from `backfeed token create`",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the application and serve it until interrupted."""
    import waitress

    from .. import main
    from ..settings import SERVER_MAX_BODY_BYTES

    settings = {
        "sqlalchemy.url": f"sqlite:///{Path(args.database).resolve()}",
        "backfeed.create_schema": "true",
    }
    if args.contracts:
        settings["backfeed.contracts"] = args.contracts
    if args.dev_admin_token:
        settings["backfeed.dev_admin_token"] = args.dev_admin_token
    waitress.serve(
        main({}, **settings),
        host=args.host,
        port=args.port,
        max_request_body_size=SERVER_MAX_BODY_BYTES,
    )
    return 0
