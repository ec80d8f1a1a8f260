"""A stored time as whole microseconds since the Unix epoch, computed by the database.

Reading a million times as Python datetimes costs seconds; as integers it is a fraction of
that. :class:`epoch_micros` compiles to each database's exact arithmetic on the stored
naive UTC value: PostgreSQL's ``extract(epoch …)`` is a numeric, and SQLite keeps the text
``YYYY-MM-DD HH:MM:SS.ffffff``, whose whole seconds and digits of microseconds are read
apart (``strftime`` of the whole text would round ``.999999`` up to the next second).
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch_micros(FunctionElement):
    """``epoch_micros(column)``: the column's time in microseconds since the epoch."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_micros"


@compiles(epoch_micros, "postgresql")
def _postgresql(element: epoch_micros, compiler, **kw) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


@compiles(epoch_micros, "sqlite")
def _sqlite(element: epoch_micros, compiler, **kw) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({column} || '.000000', 21, 6) AS INTEGER))"
    )
