"""The bound every balance is held under: no action may leave one beyond it.

Balances are floats. Left alone, rewards compound until a total reaches infinity, which no
JSON document can carry; long before that, a balance has no cent left. So every action is
checked against :data:`MAX_BALANCE` before anything changes, and refused if it would pass.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import BalanceLimitExceeded

MAX_BALANCE = 1e15
"""The largest balance, contribution fund or contract total: 10^15.

Far above any real community's figures, yet a double still counts every cent below it
(spacing 0.125 at 10^15), and no sum of balances can overflow. The contract's totals are
held under it, so every balance is too: balances are never negative, so none exceeds its
total.
"""


def check_bounded(action: str, **amounts: float) -> None:
    """Refuse ``action`` (a :class:`~protocol.errors.BalanceLimitExceeded` naming the first
    amount at fault) if it would leave one of ``amounts``, named by keyword, NaN, infinite
    or above :data:`MAX_BALANCE`."""
    numbers = amounts.values()
    # Checked on every action: plain floats first (a NaN makes the sum NaN, unequal to
    # itself), numpy only to name the amount at fault.
    total = sum(numbers)
    if total == total and min(numbers) > -math.inf and max(numbers) <= MAX_BALANCE:
        return
    values = np.array(list(numbers), dtype=np.float64)
    faults = ~(np.isfinite(values) & (values <= MAX_BALANCE))
    if not faults.any():
        return
    index = int(np.argmax(faults))
    name, value = list(amounts)[index], float(values[index])
    after = f"to {value:g}" if np.isfinite(value) else "to a number that is not finite"
    raise BalanceLimitExceeded(
        f"{action} would bring {name} {after}: every balance, fund and total is held at "
        f"most {MAX_BALANCE:g}, so nothing was changed",
        name,
    )


def check_totals(action: str, total_reputation: float, total_tokens: float) -> None:
    """Refuse ``action`` if it would bring the contract's total reputation or tokens beyond
    :data:`MAX_BALANCE` (and with them, any user's balance)."""
    check_bounded(action, total_reputation=total_reputation, total_tokens=total_tokens)
