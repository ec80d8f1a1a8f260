"""The errors a subcommand raises to stop with a message and an exit code, not a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """The command cannot go on; its message is shown as one line on stderr."""

    exit_code = EXIT_PROBLEM


class UsageError(CommandError):
    """The command was called wrongly, e.g. with an input file it cannot use."""

    exit_code = EXIT_USAGE
