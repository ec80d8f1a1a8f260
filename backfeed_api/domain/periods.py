"""The periods statistics and leaderboards are computed over, and their equal time buckets.

Moments are whole microseconds since the Unix epoch (``int64``), so that a period, its
buckets and the stored times compare exactly. A period ends at the request's time rounded
up to the millisecond (what a JavaScript ``Date`` holds) and starts a fixed length before
it; ``all`` starts at the contract's first action. Both ends belong to the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MILLISECOND = 1000
LENGTHS = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
PERIOD_NAMES = (*LENGTHS, "all")
DEFAULT_BUCKETS = 24
MAX_BUCKETS = 1000


def micros(moment: datetime) -> int:
    """A moment as whole microseconds since the epoch."""
    return (moment - EPOCH) // MICROSECOND


def moment(value: int) -> datetime:
    """The datetime of a count of microseconds since the epoch."""
    return EPOCH + int(value) * MICROSECOND


def iso_millis(value: int) -> str:
    """A moment in ISO 8601 UTC to the millisecond, as JavaScript writes and reads them."""
    return moment(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end``, both included, in microseconds since the epoch."""

    start: int
    end: int

    def contains(self, times: np.ndarray) -> np.ndarray:
        """Which of ``times`` fall within the period."""
        return (times >= self.start) & (times <= self.end)

    def boundaries(self, buckets: int) -> np.ndarray:
        """The starts of ``buckets`` equal parts of the period, to the millisecond; a part
        runs up to the next one's start, the last one up to the period's end."""
        span = (self.end - self.start) // MILLISECOND
        steps = np.arange(buckets, dtype=np.int64)
        return self.start + (span * steps // buckets) * MILLISECOND

    def bucket_of(self, times: np.ndarray, buckets: int) -> np.ndarray:
        """The part each of ``times`` (all within the period) falls in."""
        span = (self.end - self.start) // MILLISECOND
        if span == 0:
            return np.zeros(times.size, np.int64)
        elapsed = (times - self.start) // MILLISECOND  # the part starting at or before it
        return np.clip((buckets * (elapsed + 1) - 1) // span, 0, buckets - 1)

    def as_dict(self) -> dict[str, str]:
        """``{"from", "to"}`` in ISO 8601 UTC."""
        return {"from": iso_millis(self.start), "to": iso_millis(self.end)}


def period_ending(name: str, now: datetime, first_action: int | None) -> Period:
    """The period called ``name`` that ends now; ``all`` begins with the first action (an
    empty contract's is the moment itself)."""
    end = -(-micros(now) // MILLISECOND) * MILLISECOND
    if name == "all":
        begin = end if first_action is None else min(end, first_action)
        return Period(begin // MILLISECOND * MILLISECOND, end)
    return Period(end - LENGTHS[name] // MICROSECOND, end)
