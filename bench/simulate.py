"""Benchmark of ``backfeed simulate``: a large generated community with its CSV and plot.

Runs the command in a child process, as a user would, and prints its wall time and its peak
memory (the child's largest resident set) against the targets: the community of 10,000
users making 1,000 contributions and 100,000 evaluations, written to CSV and plotted, in
under 60 s and 1 GB. It then times a Monte-Carlo batch of runs with one process and with
two (``--jobs 2``), and prints the ratio of their wall times, and how many CPUs each kept
busy on average (its CPU time over its wall time: at most 1 for one process). The load
average is printed first: on a machine already busy, wall times grow while CPU times stay,
and the speed-up shrinks (to none when every core is taken by others).

Run ``python -m bench.simulate`` (``make bench-simulate``) or add ``--quick`` for a run of
seconds on a small community, whose figures are printed but not judged.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

# Pyramid imports pkg_resources, which warns on every start; the report has no use for it.
warnings.filterwarnings("ignore", "pkg_resources is deprecated")

import numpy as np  # noqa: E402

from .report import render  # noqa: E402

SECONDS_TARGET = 60.0
MEMORY_TARGET = 1024**3


@dataclass(frozen=True)
class Plan:
    """The sizes of one benchmark run."""

    users: int
    contributions: int
    evaluations: int
    runs: int
    run_evaluations: int


FULL = Plan(users=10_000, contributions=1_000, evaluations=100_000, runs=8, run_evaluations=5_000)
QUICK = Plan(users=500, contributions=50, evaluations=2_000, runs=4, run_evaluations=500)


@dataclass(frozen=True)
class Measured:
    """One ``backfeed simulate`` run: wall time, CPU time and peak memory of the child."""

    seconds: float
    cpu_seconds: float
    peak_bytes: int


def simulate(*arguments: str, cwd: Path) -> Measured:
    """Run ``backfeed simulate arguments`` in a child process and measure it."""
    command = [sys.executable, "-m", "backfeed_api.cli", "simulate", *arguments]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"backfeed simulate {' '.join(arguments)} failed ({child.returncode})")
    # ru_maxrss is in kilobytes on Linux.
    return Measured(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the measurements, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    options = parser.parse_args(argv)
    plan = QUICK if options.quick else FULL
    cpus = os.cpu_count() or 1
    jobs = 2
    print(
        f"backfeed simulate benchmark ({'quick' if options.quick else 'full'} run): "
        f"Python {platform.python_version()}, numpy {np.__version__}, {cpus} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print()
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as scratch:
        directory = Path(scratch)
        community = (
            *("--users", str(plan.users), "--contributions", str(plan.contributions)),
            *("--evaluations", str(plan.evaluations), "--seed", "1"),
        )
        run = simulate(*community, "--csv", "run.csv", "--plot", "run.png", cwd=directory)
        csv_bytes = (directory / "run.csv").stat().st_size
        with (directory / "run.csv").open("rb") as stream:
            rows = sum(1 for _ in stream) - 1
        batch = (
            *("--users", str(plan.users // 10), "--contributions", str(plan.contributions)),
            *("--evaluations", str(plan.run_evaluations), "--runs", str(plan.runs)),
            *("--sweep", "beta=0.2,0.6", "--summary", "runs.csv"),
        )
        serial = simulate(*batch, "--jobs", "1", cwd=directory)
        parallel = simulate(*batch, "--jobs", str(jobs), cwd=directory)

    judged = not options.quick
    rows_out = [
        [
            f"simulate {plan.users:,} users, {plan.evaluations:,} evaluations, CSV and plot",
            f"{run.seconds:.1f} s",
            f"< {SECONDS_TARGET:.0f} s",
            _met(judged, run.seconds < SECONDS_TARGET),
        ],
        [
            "  its peak memory",
            f"{run.peak_bytes / 1024**2:,.0f} MB",
            f"< {MEMORY_TARGET / 1024**2:,.0f} MB",
            _met(judged, run.peak_bytes < MEMORY_TARGET),
        ],
        ["  its CPU time", f"{run.cpu_seconds:.1f} s", "", ""],
        ["  its CSV", f"{rows:,} rows, {csv_bytes / 1024**2:,.0f} MB", "", ""],
        [
            f"{2 * plan.runs} runs ({plan.runs} seeds x 2 sweep values), --jobs 1",
            f"{serial.seconds:.1f} s ({serial.cpu_seconds:.1f} s CPU)",
            "",
            "",
        ],
        [
            f"  the same, --jobs {jobs}",
            f"{parallel.seconds:.1f} s ({parallel.cpu_seconds:.1f} s CPU)",
            "",
            "",
        ],
        [
            f"  --jobs 1 / --jobs {jobs} wall-time ratio (speed-up)",
            f"{serial.seconds / parallel.seconds:.2f}x",
            f"> 1 on {cpus} CPUs" if cpus > 1 else "",
            _met(judged and cpus > 1, serial.seconds > parallel.seconds),
        ],
        [
            "  CPUs kept busy on average (CPU / wall), --jobs 1 and --jobs 2",
            f"{serial.cpu_seconds / serial.seconds:.2f} and "
            f"{parallel.cpu_seconds / parallel.seconds:.2f}",
            "",
            "",
        ],
        ["load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}", "", ""],
    ]
    print(render(["measurement", "figure", "target", "met"], rows_out))


def _met(judged: bool, met: bool) -> str:
    """The "met" column: yes or NO for a judged figure, blank for the others."""
    if not judged:
        return ""
    return "yes" if met else "NO"


if __name__ == "__main__":
    main()
