"""``backfeed token create|list|revoke <ini>``: the bearer tokens of the API.

``create`` prints the new token alone on standard output, once (the database keeps only its
hash), and what it is on standard error, so that ``TOKEN=$(backfeed token create ...)``
works; with ``--service`` the token is a service-wide admin, of no one contract. ``list``
shows every token's id, contract, role, user, origin, creation, expiry (of a login token)
and revocation, never the token or its hash. ``revoke`` revokes one by id; its
requests get 401 from then on.
"""

from __future__ import annotations

import argparse
import sys

from .appconfig import add_ini_argument, database
from .errors import EXIT_OK, CommandError, UsageError

ROLES = ("admin", "user", "read")


def register(subparsers) -> None:
    """Add the ``token`` subcommand and its ``create``, ``list`` and ``revoke`` actions."""
    parser = subparsers.add_parser(
        "token",
        help="create, list or revoke bearer tokens of the API",
        description="Manage the bearer tokens of the API. A token belongs to one contract "
        "and has one role: admin (everything in the contract), user (acts as one user) or "
        "read (GET only); a service token (--service) is admin of every contract and may "
        "create contracts.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        help="issue a token and print it once",
        description="Issue a token and print it, alone on standard output; it is not "
        "stored and cannot be shown again.",
    )
    add_ini_argument(create)
    create.add_argument("--contract", help="the contract the token is for")
    create.add_argument("--role", help="admin, user or read")
    create.add_argument(
        "--service",
        action="store_true",
        help="a service-wide admin token: creates contracts (PUT /{contract}), admin of all",
    )
    create.add_argument("--user", help="the user a user token acts as (its id)")
    create.set_defaults(func=run_create)

    listing = actions.add_parser(
        "list",
        help="list the tokens (never the tokens themselves)",
        description="List id, contract, role, user, origin, creation, expiry and revocation time.",
    )
    add_ini_argument(listing)
    listing.add_argument("--contract", help="only this contract's tokens")
    listing.set_defaults(func=run_list)

    revoke = actions.add_parser(
        "revoke", help="revoke a token by its id", description="Revoke a token by its id."
    )
    add_ini_argument(revoke)
    revoke.add_argument("id", help="the token's id, as `backfeed token list` shows it")
    revoke.set_defaults(func=run_revoke)


def _integer(text: str, what: str) -> int:
    """A positive id given on the command line, or a usage error (the API's id rules)."""
    from ..api.schemas import INTEGER_TEXT, MAX_ID

    if not INTEGER_TEXT.fullmatch(text) or not 0 < int(text) <= MAX_ID:
        raise UsageError(f"{what} must be a positive integer, not {text!r}")
    return int(text)


def run_create(args: argparse.Namespace) -> int:
    """Issue a token of ``--role`` for ``--contract`` (and ``--user``) and print it once."""
    from ..auth.credentials import USER, issue_token
    from ..clock import utc_now
    from ..domain.catalog import load_catalog
    from ..domain.users import find_user
    from ..models import get_session_factory

    if args.service:
        if args.contract is not None or args.role is not None or args.user is not None:
            raise UsageError("--service takes no --contract, --role or --user")
        return _create_service_token(args)
    if args.contract is None or args.role is None:
        raise UsageError("--contract and --role are needed (or --service)")
    if args.role not in ROLES:
        raise UsageError(f"--role must be one of {', '.join(ROLES)}, not {args.role!r}")
    if (args.role == USER) != (args.user is not None):
        raise UsageError("--user is needed with --role user, and only with it")
    user_id = _integer(args.user, "--user") if args.user is not None else None
    with (
        database(args.ini) as (settings, engine),
        get_session_factory(engine)() as session,
        session.begin(),
    ):
        now = utc_now()
        contract = load_catalog(session, settings, now).get(args.contract)
        if contract is None:
            raise UsageError(f"no contract {args.contract!r} in {args.ini}")
        if user_id is not None and find_user(session, contract, user_id) is None:
            raise UsageError(f"user {user_id} is not a user of contract {args.contract!r}")
        row, token = issue_token(
            session, contract.row_id, args.role, now, user_id=user_id, origin="cli"
        )
        described = f"token {row.id}: {args.role} of {contract.name}"
    if user_id is not None:
        described += f" acting as user {user_id}"
    print(token)
    print(f"{described}; it is shown only this once", file=sys.stderr)
    return EXIT_OK


def _create_service_token(args: argparse.Namespace) -> int:
    """Issue a service-wide admin token and print it once."""
    from ..auth.credentials import ADMIN, issue_token
    from ..clock import utc_now
    from ..domain.catalog import load_catalog
    from ..models import get_session_factory

    with (
        database(args.ini) as (settings, engine),
        get_session_factory(engine)() as session,
        session.begin(),
    ):
        now = utc_now()
        load_catalog(session, settings, now)  # the settings are valid
        row, token = issue_token(session, None, ADMIN, now, origin="cli")
        described = f"token {row.id}: service-wide admin"
    print(token)
    print(f"{described}; it is shown only this once", file=sys.stderr)
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    """Print a table of the tokens, newest last; a service-wide token's contract is ``*``."""
    from sqlalchemy import select

    from ..api.presenters import iso
    from ..models import ApiToken, ContractRow, get_session_factory

    with (
        database(args.ini) as (_, engine),
        get_session_factory(engine)() as session,
        session.begin(),
    ):
        query = (
            select(ApiToken, ContractRow.name)
            .outerjoin(ContractRow, ContractRow.id == ApiToken.contract_id)
            .order_by(ApiToken.id)
        )
        if args.contract:
            query = query.where(ContractRow.name == args.contract)
        rows = [
            (
                str(token.id),
                "*" if name is None else name,
                token.role,
                "-" if token.user_id is None else str(token.user_id),
                token.origin,
                iso(token.created_at),
                "-" if token.expires_at is None else iso(token.expires_at),
                "-" if token.revoked_at is None else iso(token.revoked_at),
            )
            for token, name in session.execute(query)
        ]
    header = ("id", "contract", "role", "user", "origin", "created", "expires", "revoked")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke the token ``id``; revoking a revoked token again changes nothing."""
    from ..api.presenters import iso
    from ..auth.credentials import revoke_token
    from ..clock import utc_now
    from ..models import get_session_factory

    token_id = _integer(args.id, "the token id")
    with (
        database(args.ini) as (_, engine),
        get_session_factory(engine)() as session,
        session.begin(),
    ):
        row = revoke_token(session, token_id, utc_now())
        if row is None:
            raise CommandError(f"no token {token_id}")
        revoked_at = iso(row.revoked_at)
    print(f"token {token_id} revoked at {revoked_at}")
    return EXIT_OK
