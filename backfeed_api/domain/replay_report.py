"""The outputs of a what-if replay: a text report, a CSV of every user and a plot.

The same three serve ``backfeed replay`` and the replay jobs of the HTTP API. The CSV has
one row per user, ``user,actual_reputation,what_if_reputation,actual_tokens,
what_if_tokens`` (floats exact); the plot shows the Lorenz curves of reputation actual and
what-if, and each user's what-if reputation against its actual one.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, TextIO

import numpy as np

from protocol.scenarios import gini

from .replay import WhatIf

FIGURE_INCHES = (10.0, 5.0)
CSV_HEADER = "user,actual_reputation,what_if_reputation,actual_tokens,what_if_tokens\n"


def write_users_csv(stream: TextIO, result: WhatIf) -> None:
    """Every user's balances, actual and what-if, one row each in the order they joined."""
    stream.write(CSV_HEADER)
    columns = (
        result.user_ids.tolist(),
        result.actual_reputation.tolist(),
        result.what_if_reputation.tolist(),
        result.actual_tokens.tolist(),
        result.what_if_tokens.tolist(),
    )
    stream.write(
        "".join(
            f"{user},{a!r},{b!r},{c!r},{d!r}\n" for user, a, b, c, d in zip(*columns, strict=True)
        )
    )


def what_if_title(contract: str, overrides: Mapping[str, Any]) -> str:
    """The title of a what-if plot: the contract and the parameters changed."""
    changed = " ".join(f"{key}={value}" for key, value in overrides.items())
    return f"{contract}: what if {changed or 'nothing changed'}"


def report_text(contract: str, summary: dict[str, Any]) -> str:
    """The report of :meth:`WhatIf.summary` in words and a small table, for a terminal."""
    overrides = " ".join(f"{key}={value}" for key, value in summary["overrides"].items())
    lines = [
        f"contract {contract}: {summary['actions']:,} actions, {summary['users']:,} users; "
        f"what if {overrides or 'nothing changed'}",
        "",
        f"{'':20} {'actual':>22} {'what-if':>22}",
    ]
    for key, label in (
        ("total_reputation", "total reputation"),
        ("total_tokens", "total tokens"),
        ("gini", "Gini of reputation"),
    ):
        lines.append(
            f"{label:20} {summary['actual'][key]:>22.10g} {summary['what_if'][key]:>22.10g}"
        )
    for key, label in (("gainers", "gain most"), ("losers", "lose most")):
        lines += ["", f"users who {label}:"]
        lines += [
            f"  user {user['user_id']}: {user['actual_reputation']:.6g} -> "
            f"{user['what_if_reputation']:.6g} ({user['change']:+.6g})"
            for user in summary[key]
        ] or ["  none"]
    counts = summary["refused"]["counts"]
    lines += [
        "",
        "refused under the new rules: "
        + ", ".join(f"{count:,} {kind}" for kind, count in counts.items()),
    ]
    lines += [
        f"  {refusal['kind']} {refusal['id']}: {refusal['reason']}"
        for refusal in summary["refused"]["first"]
    ]
    return "\n".join(lines) + "\n"


def draw_what_if(result: WhatIf, path: str | io.BytesIO, title: str = "") -> None:
    """Save :func:`what_if_figure` as a PNG to ``path``, drawn off screen (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_INCHES, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    what_if_figure(result, figure, title)
    figure.savefig(path, format="png")


def what_if_figure(result: WhatIf, figure: Any, title: str = "") -> None:
    """Draw on a matplotlib ``figure`` the Lorenz curves of reputation, actual and what-if,
    with their Gini coefficients, and every user's what-if reputation against its actual
    one."""
    lorenz, scatter = figure.subplots(1, 2)
    for values, label, colour in (
        (result.actual_reputation, "actual", "C0"),
        (result.what_if_reputation, "what-if", "C1"),
    ):
        shares = _lorenz(values)
        lorenz.plot(
            np.linspace(0.0, 1.0, shares.size),
            shares,
            color=colour,
            label=f"{label} (Gini {gini(values):.3f})",
        )
    lorenz.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
    lorenz.set_xlabel("share of users, poorest first")
    lorenz.set_ylabel("share of reputation")
    lorenz.legend(loc="upper left", fontsize="small")
    lorenz.grid(alpha=0.3)
    scatter.scatter(result.actual_reputation, result.what_if_reputation, s=6, alpha=0.6)
    top = max(
        float(result.actual_reputation.max(initial=0.0)),
        float(result.what_if_reputation.max(initial=0.0)),
    )
    scatter.plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle="--")
    scatter.set_xlabel("actual reputation")
    scatter.set_ylabel("what-if reputation")
    scatter.grid(alpha=0.3)
    figure.suptitle(title or "What if")


def _lorenz(values: np.ndarray) -> np.ndarray:
    """The cumulative share of the total held by the poorest users, from 0 to 1."""
    cumulative = np.concatenate([[0.0], np.cumsum(np.sort(values))])
    total = cumulative[-1]
    return cumulative / total if total > 0 else np.linspace(0.0, 1.0, cumulative.size)
