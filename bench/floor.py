"""The floor: a trivial endpoint that the bench server adds to the service, not in the API.

``POST /__bench__/floor`` runs one transaction through the same stack as a vote (gunicorn,
Pyramid, ``pyramid_tm``, ``request.dbsession``, the same pool): it locks a counter row with
``SELECT … FOR UPDATE``, as a vote locks its contract's row, and increments it. Every
request locks the same row, so floor requests are serialised like votes on one contract. Its
throughput is what the server could do if a vote did no work of its own; the ratio of the
evaluation throughput to it says how much a vote costs beyond that.

The bench server includes this module with the Pyramid setting
``pyramid.includes = bench.floor``; :func:`create_floor_table` is called by the seeder.
"""

from __future__ import annotations

import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.request import Request
from zope.sqlalchemy import mark_changed

PATH = "/__bench__/floor"
TABLE = "bench_floor"


def create_floor_table(connection: sa.Connection) -> None:
    """Create the floor's one-row counter table in the bench database."""
    connection.execute(sa.text(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, hits bigint)"))
    connection.execute(sa.text(f"INSERT INTO {TABLE} (id, hits) VALUES (1, 0)"))


def floor(request: Request) -> dict[str, int]:
    """One read (the counter, locked) and one write (the counter, incremented)."""
    session = request.dbsession
    hits = session.execute(
        sa.text(f"SELECT hits FROM {TABLE} WHERE id = 1 FOR UPDATE")
    ).scalar_one()
    session.execute(sa.text(f"UPDATE {TABLE} SET hits = :hits WHERE id = 1"), {"hits": hits + 1})
    mark_changed(session)
    return {"hits": hits + 1}


def includeme(config: Configurator) -> None:
    """Add the floor's route and view to the application being configured."""
    config.add_route("bench_floor", PATH)
    config.add_view(floor, route_name="bench_floor", request_method="POST", renderer="json")
