"""Arrays sent in PostgreSQL's binary format read back exactly, whatever their values."""

from __future__ import annotations

import numpy as np
import pytest

from backfeed_api.models.arrays import float8_array, int8_array
from backfeed_api.models.session import get_engine

pytestmark = pytest.mark.postgresql

FLOATS = [0.0, -0.0, 1.5, -2.25, 0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.8e308 / 1.01]
INTEGERS = [0, 1, -1, 2**63 - 1, -(2**63), 123456789012]


@pytest.fixture
def connection(postgresql_url: str, monkeypatch: pytest.MonkeyPatch):
    """A connection of the service's own engine: its connections know the arrays."""
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    engine = get_engine({"sqlalchemy.url": postgresql_url})
    with engine.connect() as opened:
        yield opened.connection.driver_connection
    engine.dispose()


def read_back(connection, parameter, sql_type: str) -> list:
    return connection.execute(f"SELECT %s::{sql_type}", [parameter]).fetchone()[0]


def test_floats_read_back_bit_for_bit(connection) -> None:
    values = np.array(FLOATS + list(np.random.default_rng(7).normal(size=1000)))
    back = np.array(read_back(connection, float8_array(values), "float8[]"))
    assert back.tobytes() == values.tobytes()  # -0.0 and subnormals included


def test_integers_read_back_exactly(connection) -> None:
    assert read_back(connection, int8_array(np.array(INTEGERS)), "int8[]") == INTEGERS


def test_an_empty_array_is_an_empty_array(connection) -> None:
    assert read_back(connection, float8_array(np.array([])), "float8[]") == []


def test_arrays_unnest_side_by_side(connection) -> None:
    rows = connection.execute(
        "SELECT * FROM unnest(%s, %s)", [int8_array([3, 1]), float8_array([0.5, -1.0])]
    ).fetchall()
    assert rows == [(3, 0.5), (1, -1.0)]
