"""Tests that the benchmark scripts run, each a short ``python -m bench…`` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str, *arguments: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``python -m module arguments`` from the repository root (three minutes at most)
    and return what it printed; fail with its output when it exits non-zero."""
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=None if env is None else dict(env),
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{module} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout
