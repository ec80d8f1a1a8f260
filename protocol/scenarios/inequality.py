"""How unequally reputation is spread: the Gini coefficient, vectorised with numpy."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def gini(values: ArrayLike, axis: int = -1) -> np.ndarray | float:
    """The Gini coefficient of non-negative amounts along ``axis``.

    0 when everyone holds the same, ``(n - 1) / n`` when one of ``n`` holds everything. With
    the amounts sorted ascending as ``x_1 <= ... <= x_n``, it equals
    ``2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n``, which costs one sort instead of the
    ``n**2`` pairwise differences of the definition. An empty or all-zero distribution has
    no inequality to measure and gives 0. Many distributions of the same size can be
    measured at once by stacking them along another axis; a float comes back for 1-D input.
    """
    amounts = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    amounts = np.moveaxis(amounts, axis, -1)
    n = amounts.shape[-1]
    total = amounts.sum(axis=-1)
    if n == 0:
        result = np.zeros_like(total)
    else:
        weighted = amounts @ np.arange(1, n + 1, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where(total > 0, 2.0 * weighted / (n * total) - (n + 1.0) / n, 0.0)
    return float(result) if result.ndim == 0 else result
