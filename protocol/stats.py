"""Contribution statistics derived from voted reputation, vectorised over contributions."""

from __future__ import annotations

import numpy as np

DECAY_FLOOR = 0.1
DECAY_SCALE = 27.0
DECAY_DAYS = 30.0


def normalised(amount: np.ndarray | float, total_reputation: float) -> np.ndarray:
    """``amount / T``, and 0 when ``T`` is 0."""
    amount = np.asarray(amount, dtype=np.float64)
    if total_reputation == 0:
        return np.zeros_like(amount)
    return amount / total_reputation


def quality(up: np.ndarray, down: np.ndarray, total_reputation: float) -> np.ndarray:
    """``(1 - V(c,0)/T) * V(c,1)/T`` for each contribution."""
    return (1.0 - normalised(down, total_reputation)) * normalised(up, total_reputation)


def time_decay(age_days: np.ndarray) -> np.ndarray:
    """The weight of a contribution ``d`` whole days old: ``0.1 + 27 / (30 + d)``."""
    days = np.floor(np.asarray(age_days, dtype=np.float64))
    return DECAY_FLOOR + DECAY_SCALE / (DECAY_DAYS + days)


def contribution_scores(
    up: np.ndarray, down: np.ndarray, total_reputation: float, age_days: np.ndarray
) -> np.ndarray:
    """Each contribution's score: its quality weighted by its age."""
    return quality(up, down, total_reputation) * time_decay(age_days)
