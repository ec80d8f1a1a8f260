"""The suite's table: one row per cell, and the figures the targets of issue 6 are judged on.

Targets apply to the sizes of a full run; a quick run prints them but does not judge them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cells import Cell
from .plan import Sizes

HEADERS = ["measurement", "n", "errors", "p50 ms", "p99 ms", "per s", "figure", "target", "met"]
ONE_CONTRACT_RATE = 450.0
FLOOR_SHARE = 0.3
VOTER_RATIO = 3.0
VOTER_COST = 20e-6
COMMUNITY_DRIFT = 0.2
LISTING_TARGETS = (0.050, None, 0.500)
"""p50 (s) of the listing cells, in the order of ``Sizes.listings``."""


@dataclass
class Results:
    """Every cell of a run, keyed by what it measured; None for a cell not applicable."""

    evaluations: dict[tuple[int, int], Cell | None]
    """(users, k) → cell."""
    listings: dict[tuple[int, int], Cell]
    """(contributions, evaluations) → cell."""
    leaderboards: dict[int, Cell]
    """users → cell (the top 20 users by reputation)."""
    rates: dict[tuple[int, int], Cell]
    """(contracts, clients) → cell."""
    floors: dict[int, Cell]
    """clients → cell."""


def render(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns aligned left, the numbers right."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index < left else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join(
        [line(headers), line(["-" * width for width in widths])] + [line(row) for row in rows]
    )


def _clients(count: int) -> str:
    return f"{count} client" + "s" * (count != 1)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _cell_row(label: str, cell: Cell | None, rate: bool = False) -> list[str]:
    """The columns of a measured cell; "n/a" all along for a cell not applicable."""
    if cell is None:
        return [label, "n/a", "", "", "", "", "", "", ""]
    tally = cell.tally
    return [
        label,
        f"{len(tally.latencies):,}",
        f"{tally.errors:,}",
        _ms(cell.percentile(0.5)),
        _ms(cell.percentile(0.99)),
        f"{cell.rate:,.0f}" if rate else "",
        "ran out" if tally.exhausted else "",
        "",
        "",
    ]


class Judge:
    """Fills in the target columns of rows; judges only in a full run."""

    def __init__(self, sizes: Sizes) -> None:
        self.quick = sizes.quick

    def __call__(self, row: list[str], target: str, passed: bool | None) -> list[str]:
        """``row`` with its target, and whether it was met ("-" in a quick run or when the
        figure could not be computed)."""
        verdict = "-" if self.quick or passed is None else "yes" if passed else "NO"
        return [*row[:7], target, verdict]


def _figure(label: str, figure: str) -> list[str]:
    return [label, "", "", "", "", "", figure, "", ""]


def _p50(cell: Cell | None) -> float:
    """The median latency in seconds, NaN when not measured."""
    return float("nan") if cell is None else cell.percentile(0.5) / 1000


def _met(value: float, passed: bool) -> bool | None:
    """Whether a target was met; None when its figure is not a number."""
    return None if math.isnan(value) else passed


def evaluation_rows(results: Results, sizes: Sizes, judge: Judge) -> list[list[str]]:
    """Latency by ``k`` and community, then its ratio, slope and community drift."""
    rows = [
        _cell_row(f"evaluation, {users:,} users, k={k:,}", results.evaluations[users, k])
        for users in sizes.eval_users
        for k in sizes.voter_counts
    ]
    small, large = sizes.eval_users[0], sizes.eval_users[-1]
    first, third = sizes.voter_counts[0], sizes.voter_counts[min(2, len(sizes.voter_counts) - 1)]
    ratio = _p50(results.evaluations[large, third]) / _p50(results.evaluations[large, first])
    rows.append(
        judge(
            _figure(f"  p50 k={third:,} / p50 k={first:,}, {large:,} users", f"{ratio:.2f}x"),
            f"≤ {VOTER_RATIO:g}x",
            _met(ratio, ratio <= VOTER_RATIO),
        )
    )
    measured = [
        (k, _p50(results.evaluations[large, k]))
        for k in sizes.voter_counts
        if results.evaluations[large, k] is not None
    ]
    slope = float("nan")
    if len(measured) >= 2:
        ks, p50s = zip(*measured, strict=True)
        slope = float(np.polyfit(ks, p50s, 1)[0])
    rows.append(
        judge(
            _figure(
                f"  cost per earlier voter (least squares of p50 over k), {large:,} users",
                f"{slope * 1e6:.1f} µs",
            ),
            f"≤ {VOTER_COST * 1e6:g} µs",
            _met(slope, slope <= VOTER_COST),
        )
    )
    shared = [
        k
        for k in sizes.voter_counts
        if results.evaluations[small, k] is not None and results.evaluations[large, k] is not None
    ]
    drifts = [
        _p50(results.evaluations[large, k]) / _p50(results.evaluations[small, k]) - 1
        for k in shared
    ]
    label = " / ".join(f"k={k:,}" for k in shared)
    rows.append(
        judge(
            _figure(
                f"  p50 {large:,} users vs {small:,} users, {label}",
                " / ".join(f"{drift:+.0%}" for drift in drifts),
            ),
            f"within ±{COMMUNITY_DRIFT:.0%}",
            None
            if not drifts or any(math.isnan(d) for d in drifts)
            else all(abs(d) <= COMMUNITY_DRIFT for d in drifts),
        )
    )
    return rows


def listing_rows(results: Results, sizes: Sizes, judge: Judge) -> list[list[str]]:
    """Top 20 by score for each listing contract, judged on the median; then the
    leaderboards, which have no target."""
    rows = []
    for (contributions, evaluations), target in zip(sizes.listings, LISTING_TARGETS, strict=True):
        cell = results.listings[contributions, evaluations]
        row = _cell_row(
            f"top 20 by score, {contributions:,} contributions, {evaluations:,} evaluations", cell
        )
        if target is not None:
            p50 = _p50(cell)
            row = judge(row, f"p50 < {target * 1000:g} ms", _met(p50, p50 < target))
        rows.append(row)
    return rows + [
        _cell_row(f"top 20 users by reputation, {users:,} users", cell)
        for users, cell in results.leaderboards.items()
    ]


def rate_rows(results: Results, sizes: Sizes, judge: Judge) -> list[list[str]]:
    """Throughput on one and on several contracts, the floor, and their ratios."""
    most = max(sizes.clients)
    rows = []
    for contracts in (1, sizes.rate_contracts):
        where = "one contract" if contracts == 1 else f"{contracts} contracts"
        for clients in sizes.clients:
            cell = results.rates[contracts, clients]
            row = _cell_row(f"evaluations/s, {_clients(clients)}, {where}", cell, rate=True)
            if contracts == 1 and clients == most:
                row = judge(
                    row,
                    f"≥ {ONE_CONTRACT_RATE:g}/s",
                    _met(cell.rate, cell.rate >= ONE_CONTRACT_RATE),
                )
            rows.append(row)
    rows += [
        _cell_row(f"floor requests/s, {_clients(clients)}", results.floors[clients], rate=True)
        for clients in sizes.clients
    ]
    one = results.rates[1, most].rate
    share = one / results.floors[most].rate
    rows.append(
        judge(
            _figure(f"  evaluations/s ÷ floor, {_clients(most)}, one contract", f"{share:.2f}"),
            f"≥ {FLOOR_SHARE:g}",
            _met(share, share >= FLOOR_SHARE),
        )
    )
    spread = results.rates[sizes.rate_contracts, most].rate / one
    rows.append(
        judge(
            _figure(
                f"  evaluations/s on {sizes.rate_contracts} contracts ÷ on one, {_clients(most)}",
                f"{spread:.2f}",
            ),
            "> 1",
            _met(spread, spread > 1),
        )
    )
    return rows


def table(results: Results, sizes: Sizes) -> str:
    """The whole table of a run."""
    judge = Judge(sizes)
    rows = (
        evaluation_rows(results, sizes, judge)
        + listing_rows(results, sizes, judge)
        + rate_rows(results, sizes, judge)
    )
    return render(HEADERS, rows)
