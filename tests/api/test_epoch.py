"""``epoch_micros``: a stored time as microseconds since the epoch, exactly, on both
databases (the statistics' indexes read every time through it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from backfeed_api.domain.periods import micros
from backfeed_api.models.epoch import epoch_micros
from backfeed_api.models.meta import UTCDateTime

MOMENTS = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 2, 1, 59, 59, 999999, tzinfo=UTC),
    datetime(2100, 2, 28, 23, 0, 0, 500000, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_time_is_read_to_the_microsecond(db: sa.Engine, moment: datetime):
    table = sa.Table("epoch_probe", sa.MetaData(), sa.Column("at", UTCDateTime()))
    with db.begin() as connection:
        table.create(connection)
        try:
            connection.execute(table.insert(), {"at": moment})
            stored = connection.scalar(sa.select(epoch_micros(table.c.at)))
        finally:
            table.drop(connection)
    assert stored == micros(moment)
