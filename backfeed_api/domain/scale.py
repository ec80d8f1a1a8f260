"""A contract's reputation scale: how a loss of every non-voter is one multiplication.

Every user's balance is its stored reputation times the contract's ``reputation_scale``
(1 until the first collective loss, and always 1 in kinds without one). A collective loss of
factor ``f`` (``whitepaper1``: each user without an active vote on the contribution keeps
``f`` of its reputation) multiplies the scale by ``f``, which takes ``f`` from every user at
once, and divides the stored reputation of the users it spares (the contribution's voters)
by ``f``: the vote writes the rows of its voters, not of its community.

The scale shrinks with every such loss. Whenever it would fall below :data:`SMALLEST_SCALE`
it is multiplied by ``2 ** RESCALE_BITS`` and every stored reputation of the contract is
divided by as much, which is exact in binary floating point; ``scale_exponent`` counts those
doublings, so the product of every factor so far is ``reputation_scale * 2 **
-scale_exponent`` (:class:`Scale`) and a history can relate any two moments of it. With the
scale at least :data:`SMALLEST_SCALE`, a stored reputation stays below ``2 ** 512`` times
the balance it stands for, far from the largest double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RESCALE_BITS = 512
SMALLEST_SCALE = 2.0**-RESCALE_BITS


@dataclass(frozen=True)
class Scale:
    """The contract's ``reputation_scale`` and ``scale_exponent`` at some moment."""

    value: float = 1.0
    exponent: int = 0

    def after_loss(self, factor: float) -> tuple[Scale, float]:
        """The scale once a collective loss of ``0 < factor < 1`` applied, and what every
        stored reputation is to be multiplied by with it: 1, or ``2 ** -RESCALE_BITS`` when
        the scale is multiplied by ``2 ** RESCALE_BITS`` to stay above its lower bound."""
        value = self.value * factor
        if value >= SMALLEST_SCALE:
            return Scale(value, self.exponent), 1.0
        rescaled = Scale(math.ldexp(value, RESCALE_BITS), self.exponent + RESCALE_BITS)
        return rescaled, math.ldexp(1.0, -RESCALE_BITS)

    def since(self, earlier: Scale) -> float:
        """The product of the loss factors from ``earlier`` to this moment: what a balance
        that no loss spared in between was multiplied by."""
        return math.ldexp(self.value / earlier.value, earlier.exponent - self.exponent)
