"""Whole columns of a query as numpy arrays, read at the database's fastest.

The in-memory indexes of a contract (ranking, activity, ledger) start by reading millions
of rows. One Python tuple per row costs seconds per million, and so does one ``COPY``
message per row; on PostgreSQL the query is instead wrapped in one ``array_agg`` per
column, whose results come back in the binary format as one value each, which numpy reads
in one ``frombuffer`` (:func:`.arrays.register_array_loaders`); a time is sent as the
server stores it (microseconds since 2000), with no arithmetic per row. Elsewhere (SQLite)
the rows are read as usual and turned into arrays column by column.

Each column is read as ``np.int64``, ``np.float64`` or :data:`MOMENT` (a stored time as
microseconds since the Unix epoch, :mod:`.epoch`), so each element has a known width; a
column that may be NULL must be wrapped in ``coalesce`` by the caller. The first column is
the one the rows are ordered by: an aggregate over an ordered subquery keeps that order in
practice, and the arrays are sorted by it again in the rare case it did not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy import BigInteger, Double, Select, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .arrays import register_array_loaders
from .dialects import dialect_of
from .epoch import epoch_micros

MOMENT = "moment"
"""The kind of a column read as microseconds since the Unix epoch."""

Columns = Sequence[tuple[ColumnElement, object]]


def read_columns(
    session: Session, columns: Columns, shape: Callable[[Select], Select]
) -> tuple[np.ndarray, ...]:
    """The ``columns`` (expression, kind), one native array each in the order of the
    first, of the statement ``shape`` makes of their ``SELECT`` (adding its ``where``, its
    joins and an ``order_by`` of the first column), read in the session's transaction."""
    dtypes = [np.dtype(np.int64 if kind == MOMENT else kind) for _, kind in columns]
    connection = session.connection()
    if dialect_of(session).aggregates_arrays:
        inner = shape(select(*(_postgresql(expr, kind) for expr, kind in columns))).subquery()
        compiled = select(*(func.array_agg(column) for column in inner.c)).compile(
            dialect=connection.dialect
        )
        with connection.connection.driver_connection.cursor(binary=True) as cursor:
            register_array_loaders(cursor.adapters)
            cursor.execute(str(compiled), compiled.params)
            found = cursor.fetchone()
        if found[0] is None:  # array_agg of no row
            return tuple(np.empty(0, dtype) for dtype in dtypes)
        arrays = tuple(found)
    else:
        rows = connection.execute(shape(select(*(_rows(e, k) for e, k in columns)))).all()
        if not rows:
            return tuple(np.empty(0, dtype) for dtype in dtypes)
        arrays = tuple(
            np.array(column, dtype)
            for column, dtype in zip(zip(*rows, strict=True), dtypes, strict=True)
        )
    if arrays[0].size > 1 and not (arrays[0][1:] >= arrays[0][:-1]).all():
        order = np.argsort(arrays[0], kind="stable")
        arrays = tuple(array[order] for array in arrays)
    return arrays


def _postgresql(expr: ColumnElement, kind) -> ColumnElement:
    """The column as an 8-byte value its array loader reads: a time as it is stored."""
    if kind == MOMENT:
        return expr
    return cast(expr, BigInteger() if np.dtype(kind) == np.int64 else Double())


def _rows(expr: ColumnElement, kind) -> ColumnElement:
    """The column as a row's value: a time as its microseconds since the epoch."""
    return epoch_micros(expr) if kind == MOMENT else expr
