"""The ``backfeed`` command line: one argparse subcommand per module of :data:`SUBCOMMANDS`.

A subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. To add a
command, write such a module and list it in :data:`SUBCOMMANDS`. Modules import what is
heavy (the web framework, the database, matplotlib) inside their functions, so that one
command never pays for another's imports.

Exit codes: 0 success; 1 the command found a problem (the engine refused something, a
check failed, an output could not be written); 2 a usage error (bad options, or an input
file that cannot be used). Errors are one line on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from types import ModuleType

from protocol.errors import ProtocolError

from . import check, demo, initdb, replay, serve, simulate, token, worker
from .errors import EXIT_PROBLEM, EXIT_USAGE, CommandError, UsageError

SUBCOMMANDS: list[ModuleType] = [serve, initdb, check, token, simulate, replay, demo, worker]
"""The modules that each provide one subcommand, in the order ``--help`` lists them."""

EXIT_INTERRUPTED = 130

__all__ = ["SUBCOMMANDS", "CommandError", "UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``backfeed`` parser with every subcommand of :data:`SUBCOMMANDS` registered."""
    parser = argparse.ArgumentParser(
        prog="backfeed",
        description="Tools for backfeed-api and its scoring engine.",
        epilog="exit codes: 0 ok, 1 the command found a problem, 2 usage error",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``backfeed`` with ``argv`` (default: the process arguments); return the exit code.

    Never raises for a user's mistake: usage errors, refused actions and unusable files
    become a one-line message on standard error and an exit code a script can test.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or argparse reporting a usage error
        return _exit_code(exit_.code)
    try:
        return args.func(args)
    except CommandError as error:
        return _fail(args.command, str(error), error.exit_code)
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly. Point stdout at
        # devnull so that the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PROBLEM
    except ProtocolError as error:
        return _fail(args.command, error.message, EXIT_PROBLEM)
    except Exception as error:
        if type(error).__module__.startswith("sqlalchemy"):  # the database said no
            return _fail(args.command, f"database error: {error}".splitlines()[0], EXIT_PROBLEM)
        raise


def _fail(command: str, message: str, code: int) -> int:
    """Print ``message`` as one line on standard error and return ``code``."""
    print(f"backfeed {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _exit_code(code: int | str | None) -> int:
    """The exit code ``sys.exit`` would produce for ``code``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_USAGE
