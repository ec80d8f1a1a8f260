"""Drawing a run: the reputation of the leading users, and the Gini coefficient, over steps.

matplotlib is imported only when a plot is drawn, and only its Agg canvas is used: no window,
no display needed, and no change to pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from protocol.scenarios.history import ReputationHistory, Sample, reputation_table

FIGURE_INCHES = (10.0, 7.0)
DPI = 100
MAX_LEGEND_ENTRIES = 15


def leading_users(samples: Sequence[Sample], top: int) -> list[int]:
    """The indices of the ``top`` users with the most reputation at the last sample, best first.

    Ties are broken by the order in which users joined, so the choice is deterministic.
    """
    if not samples:
        return []
    final = samples[-1].reputation
    order = np.lexsort((np.arange(final.shape[0]), -final))
    return order[:top].tolist()


def draw(history: ReputationHistory, path: str | Path, top: int = 10, title: str = "") -> None:
    """Save a two-panel PNG (or any format matplotlib knows from the suffix) to ``path``.

    Above: reputation over steps of the ``top`` users richest at the end. Below: the Gini
    coefficient of everyone's reputation over steps (0 is equality, 1 is one user holding
    everything).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    samples = history.samples()
    users = leading_users(samples, top)
    reputation = reputation_table(samples, users)
    steps = np.array([sample.step for sample in samples])
    ginis = np.array([sample.gini for sample in samples])

    figure = Figure(figsize=FIGURE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    upper, lower = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))

    for column, user in enumerate(users):
        upper.plot(steps, reputation[:, column], label=history.names[user], linewidth=1.2)
    upper.set_ylabel("reputation")
    upper.set_title(title or f"Reputation of the top {len(users)} users")
    if 0 < len(users) <= MAX_LEGEND_ENTRIES:
        upper.legend(loc="upper left", fontsize="small", ncols=1 + len(users) // 8)
    upper.grid(alpha=0.3)

    lower.plot(steps, ginis, color="black", linewidth=1.2)
    lower.set_ylim(0.0, 1.0)
    lower.set_ylabel("Gini of reputation")
    lower.set_xlabel("step")
    lower.grid(alpha=0.3)

    figure.savefig(path)
