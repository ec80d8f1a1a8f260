"""``python -m bench.simulate`` works: a quick run prints every figure (none is judged)."""

from __future__ import annotations

from . import run_bench


def test_a_quick_run_prints_every_figure() -> None:
    out = run_bench("bench.simulate", "--quick")

    assert out.startswith("backfeed simulate benchmark (quick run)"), out
    for figure in ("CSV and plot", "peak memory", "CPU time", "rows", "--jobs 1", "speed-up"):
        assert figure in out, out
