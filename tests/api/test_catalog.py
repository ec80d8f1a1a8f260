"""Looking contracts up by name: a name this process does not know costs the database at
most one query of the contracts a second (:data:`~backfeed_api.domain.catalog.
REFRESH_SECONDS`), whatever the number of such requests, and a contract made over HTTP by
another process is served within that second; one made by this process at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session
from webtest import TestApp

from backfeed_api.domain.catalog import RULES_KEPT

from ..conftest import Clock
from .conftest import assert_error, counting_statements
from .test_versions import service_token

BODY = {"kind": "example", "parameters": {"beta": 0.4}}


def new_name() -> str:
    """A contract name no test has used (the test databases keep their contract rows)."""
    return f"guild-{uuid.uuid4().hex[:12]}"


def put(app: TestApp, db: sa.Engine, name: str) -> None:
    """Make the contract ``name`` over HTTP, with a service token."""
    app.put_json(f"/{name}", BODY, headers={"Authorization": f"Bearer {service_token(db)}"})


def contract_queries(statements: list[str]) -> int:
    """How many of ``statements`` read the contracts' table."""
    return sum("FROM contracts" in statement for statement in statements)


def test_unknown_names_cost_one_query_a_second(app: TestApp, clock: Clock, db: sa.Engine) -> None:
    app.get("/nope-0", status=404)  # the first lookup since start-up
    with counting_statements(db) as statements:
        for number in range(1, 50):
            assert_error(app.get(f"/nope-{number}/users", status=404), 404)
        app.get("/")
        app.get("/__api__")
    assert contract_queries(statements) == 0
    clock.advance(seconds=1)
    with counting_statements(db) as statements:
        for number in range(50, 60):
            app.get(f"/nope-{number}", status=404)
    assert contract_queries(statements) == 1


def test_a_contract_made_by_another_process_is_served_within_a_second(
    app: TestApp, make_app: Callable[..., TestApp], clock: Clock, db: sa.Engine
) -> None:
    other, name = make_app(), new_name()
    other.get(f"/{name}", status=404)  # the other process has just looked
    put(app, db, name)
    assert app.get(f"/{name}").json["parameters"]["beta"] == 0.4  # its own process: at once
    other.get(f"/{name}", status=404)  # not yet: the other looked less than a second ago
    assert name not in [c["name"] for c in other.get("/").json["contracts"]]
    clock.advance(seconds=1)
    assert other.get(f"/{name}").json["parameters"]["beta"] == 0.4


def test_a_listing_finds_a_new_contract_after_a_second(
    app: TestApp, make_app: Callable[..., TestApp], clock: Clock, db: sa.Engine
) -> None:
    other, name = make_app(), new_name()
    other.get("/")
    put(app, db, name)
    clock.advance(seconds=1)
    assert name in [c["name"] for c in other.get("/").json["contracts"]]
    assert name in [c["name"] for c in app.get("/").json["contracts"]]


def test_a_clock_set_back_does_not_stop_the_lookups(
    app: TestApp, make_app: Callable[..., TestApp], clock: Clock, db: sa.Engine
) -> None:
    other, name = make_app(), new_name()
    clock.advance(hours=1)
    other.get(f"/{name}", status=404)
    clock.advance(hours=-1)
    put(app, db, name)
    assert other.get(f"/{name}").json["name"] == name


def test_a_process_keeps_the_rules_of_a_few_versions_the_newest_always(
    app: TestApp, db: sa.Engine
) -> None:
    served = app.app.registry["contracts"].get("example")
    for fee in range(2, 12):  # versions 2 to 11
        app.patch_json("/example", {"parameters": {"article.fee": fee}})
    with Session(db) as session:
        for version in range(1, 12):
            assert served.rules_at(session, version).params.types["article"].fee == (
                1 if version == 1 else version
            )
            assert len(served._rules) <= RULES_KEPT
        for version in (1, 2, 3):  # the oldest, read again, rebuilt from the database
            assert served.rules_at(session, version).params.types["article"].fee == max(1, version)
            assert served.rules.params.types["article"].fee == 11  # the newest stays
