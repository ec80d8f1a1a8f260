"""Drawing a run (the reputation of the leading users, and the Gini coefficient, over
steps), or many runs (medians and bands of their inequality over steps).

matplotlib is imported only when a plot is drawn, and only its Agg canvas is used: no window,
no display needed, and no change to pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from protocol.scenarios import RunResult
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


BAND_PANELS = (
    ("gini_series", "Gini of reputation"),
    ("top_share_series", "top 10 % share"),
    ("reputation_series", "total reputation"),
)


def draw_bands(results: Sequence[RunResult], path: str | Path, title: str = "") -> None:
    """Save a PNG of many runs: for each point of the sweep (one colour each), the median
    over its runs of the Gini coefficient, the top 10 % share and the total reputation at
    every sampled step, in a band from the 10th to the 90th percentile."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups: dict[str, list[RunResult]] = {}
    for result in results:
        label = " ".join(f"{key}={value}" for key, value in result.spec.swept.items())
        groups.setdefault(label, []).append(result)

    figure = Figure(figsize=FIGURE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(len(BAND_PANELS), 1, sharex=True)
    for number, (label, runs) in enumerate(groups.items()):
        colour = f"C{number % 10}"
        steps = runs[0].steps
        for axes, (attribute, _) in zip(panels, BAND_PANELS, strict=True):
            values = np.vstack([getattr(run, attribute) for run in runs])
            low, median, high = np.percentile(values, (10, 50, 90), axis=0)
            axes.plot(steps, median, color=colour, linewidth=1.4, label=label or None)
            if len(runs) > 1:
                axes.fill_between(steps, low, high, color=colour, alpha=0.2, linewidth=0)
    for axes, (_, name) in zip(panels, BAND_PANELS, strict=True):
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
    for axes in panels:
        axes.set_ylim(bottom=0.0)
    panels[-1].set_xlabel("step")
    runs_each = max(len(runs) for runs in groups.values())
    panels[0].set_title(
        title or f"Median and 10-90 % band over {runs_each} run(s) per sweep value"
    )
    if any(groups) and len(groups) <= MAX_LEGEND_ENTRIES:
        panels[0].legend(loc="upper left", fontsize="small")
    figure.savefig(path)
