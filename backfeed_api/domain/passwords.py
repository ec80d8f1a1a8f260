"""What a password must be to be accepted for a login.

At least :data:`MIN_LENGTH` characters, not containing the username, and not one of the
passwords guessers try first. That list is not ours: it is the 30,000 most common passwords
from leaked password sets that the ``zxcvbn`` package ships for its own strength estimate
(``zxcvbn.frequency_lists``), compared without regard to case. Refusals name the rule
broken, never the password.
"""

from __future__ import annotations

from functools import cache

MIN_LENGTH = 10
MAX_LENGTH = 1024


@cache
def common_passwords() -> frozenset[str]:
    """The common passwords, in lower case; loaded once, on first use (it is large)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(entry.casefold() for entry in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, username: str) -> str | None:
    """Why ``password`` may not be the password of ``username``, or None when it may be."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    folded = password.casefold()
    if username.casefold() in folded:
        return "may not contain the username"
    if folded in common_passwords():
        return "is too common: it is on the list of passwords that guessers try first"
    return None
