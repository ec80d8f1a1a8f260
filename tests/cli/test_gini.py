"""The Gini coefficient, checked against hand-computed values and the pairwise definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.scenarios import gini


def pairwise_gini(values: np.ndarray) -> float:
    """The definition: mean absolute difference over all pairs, over twice the mean."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or values.sum() == 0:
        return 0.0
    differences = np.abs(values[:, None] - values[None, :]).sum()
    return float(differences / (2 * values.size**2 * values.mean()))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 5, 5, 5], 0.0),
        ([0, 0, 0, 8], 0.75),  # one of four holds everything: (n - 1) / n
        ([1, 2, 3, 4, 5], 4 / 15),  # pairs differ by 40 in total; 40 / (2 * 25 * 3)
        ([3, 1], 0.25),  # order does not matter
        ([], 0.0),
        ([0, 0, 0], 0.0),
    ],
)
def test_known_values(values: list[float], expected: float) -> None:
    assert gini(values) == pytest.approx(expected, abs=1e-12)


def test_many_distributions_at_once() -> None:
    stacked = np.array([[5, 5, 5, 5], [0, 0, 0, 8], [1, 2, 3, 4]])

    assert gini(stacked) == pytest.approx([0.0, 0.75, 0.25])
    assert gini(stacked.T, axis=0) == pytest.approx([0.0, 0.75, 0.25])


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=40))
def test_matches_the_pairwise_definition(values: list[float]) -> None:
    assert gini(values) == pytest.approx(pairwise_gini(np.array(values)), abs=1e-9)
