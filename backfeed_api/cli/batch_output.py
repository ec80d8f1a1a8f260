"""The outputs of many runs (``backfeed simulate --runs/--sweep``): the summary CSV.

One row per run, with everything the run depends on (the community's knobs, its seed, every
override) so that ``backfeed simulate`` with those options plays it again, and what it ended
with. Floats are written with ``repr``, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from protocol.scenarios import RunResult

from .csv_recorder import csv_field

COMMUNITY_COLUMNS = (
    "kind",
    "users",
    "contributions",
    "evaluations",
    "vote_probability",
    "initial_reputation",
    "seed",
)
RESULT_COLUMNS = (
    "gini",
    "top_10_percent_share",
    "total_reputation",
    "tokens_issued",
    "refused_evaluations",
    "refused_contributions",
)


def write_summary(stream: TextIO, results: Sequence[RunResult], swept: Sequence[str]) -> None:
    """Write the header and one row per run of ``results``; ``swept`` names the parameters
    of the sweep, one column each."""
    header = ["run", *COMMUNITY_COLUMNS, "overrides", *swept, *RESULT_COLUMNS]
    stream.write(",".join(header) + "\n")
    for result in results:
        spec = result.spec
        community = spec.community
        if community is None:
            assert spec.scenario is not None
            knobs = [spec.scenario.contract] + [""] * (len(COMMUNITY_COLUMNS) - 1)
            overrides = {**spec.scenario.overrides, **spec.swept}
        else:
            knobs = [_text(getattr(community, name)) for name in COMMUNITY_COLUMNS]
            overrides = dict(community.overrides)
        row = [
            str(spec.index),
            *knobs,
            " ".join(f"{key}={_text(value)}" for key, value in overrides.items()),
            *(_text(spec.swept[name]) for name in swept),
            *(_text(getattr(result, name)) for name in _ATTRIBUTES),
        ]
        stream.write(",".join(csv_field(cell) for cell in row) + "\n")


_ATTRIBUTES = (
    "gini",
    "top_share",
    "total_reputation",
    "tokens_issued",
    "refused_evaluations",
    "refused_contributions",
)
"""The attributes of :class:`RunResult` written in :data:`RESULT_COLUMNS`, in order."""


def _text(value: Any) -> str:
    """A cell: exact for floats, ``true``/``false`` for booleans, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
