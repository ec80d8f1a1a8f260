"""A thinned record of reputation over a run, for plotting.

Keeping every user's reputation after every step would grow without bound, so the history
keeps at most ``max_samples`` snapshots, evenly spaced: whenever it fills up, every other
snapshot is dropped and from then on only every second step (then fourth, eighth...) is
kept. The last step is always kept too. Memory stays at ``max_samples`` times the number of
users, whatever the length of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .inequality import gini


@dataclass(frozen=True)
class Sample:
    """Everyone's reputation after one step, and its Gini coefficient."""

    step: int
    reputation: np.ndarray
    gini: float


class ReputationHistory:
    """A :class:`~.runner.Recorder` that samples reputation for plots."""

    def __init__(self, max_samples: int = 500) -> None:
        if max_samples < 2:
            raise ValueError("a history needs room for at least 2 samples")
        self.max_samples = max_samples
        self.stride = 1
        self.names: list[str] = []
        self._samples: list[Sample] = []
        self._latest: tuple[int, np.ndarray] | None = None

    def record(
        self,
        step: int,
        names: Sequence[str],
        reputation: np.ndarray,
        tokens: np.ndarray,
        changed: np.ndarray | None = None,
    ) -> None:
        """Keep the step if it falls on the stride, and always as the latest one seen."""
        if len(names) != len(self.names):
            self.names = list(names)
        self._latest = (step, reputation.copy())
        if step % self.stride == 0:
            self._samples.append(_sample(*self._latest))
            if len(self._samples) >= self.max_samples:
                self._samples = self._samples[::2]
                self.stride *= 2

    def samples(self) -> list[Sample]:
        """The kept snapshots in step order, ending with the latest step recorded."""
        samples = list(self._samples)
        if self._latest is not None and (not samples or samples[-1].step != self._latest[0]):
            samples.append(_sample(*self._latest))
        return samples


def reputation_table(samples: Sequence[Sample], users: Sequence[int]) -> np.ndarray:
    """The reputation of ``users`` (by index) at each sample: NaN before a user joined.

    Shape ``(len(samples), len(users))``.
    """
    users = np.asarray(users, dtype=np.int64)
    table = np.full((len(samples), users.shape[0]), np.nan)
    for row, sample in enumerate(samples):
        present = users < sample.reputation.shape[0]
        table[row, present] = sample.reputation[users[present]]
    return table


def _sample(step: int, reputation: np.ndarray) -> Sample:
    return Sample(step, reputation, gini(reputation))
