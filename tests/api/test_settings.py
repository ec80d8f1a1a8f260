"""The settings: declared once, read through their declarations, checked at start-up."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from sqlalchemy.orm import Session
from webtest import TestApp

from backfeed_api.app import includeme as wire
from backfeed_api.models import ContractRow, ContractVersion
from backfeed_api.settings import (
    DECLARED,
    IDEMPOTENCY_RETENTION,
    RETRY_ATTEMPTS,
    Family,
    Option,
    check,
    declare,
    flag,
)
from protocol import ConfigurationError
from tests.conftest import TEST_SETTINGS, Clock

NUMBERS = [
    name
    for name, setting in DECLARED.items()
    if isinstance(setting, Option)
    and isinstance(setting.default, int | float)
    and not isinstance(setting.default, bool)
]
FLAGS = [
    name
    for name, setting in DECLARED.items()
    if isinstance(setting, Option) and isinstance(setting.default, bool)
]


def test_a_setting_without_a_doc_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match=r"backfeed\.new .*without a doc"):
        Option("backfeed.new", flag, False, doc=" ")
    with pytest.raises(ValueError, match="without a doc"):
        Family("backfeed.new.<x>", "backfeed.new.", doc="", shown_default="none")


def test_a_setting_cannot_be_declared_twice() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        declare(Option("backfeed.idempotency_hours", flag, False, doc="Again."))
    assert DECLARED["backfeed.idempotency_hours"] is IDEMPOTENCY_RETENTION


def test_every_declared_default_is_a_valid_value() -> None:
    check({})


def test_the_numbers_and_flags_are_found() -> None:
    assert {"backfeed.idempotency_hours", "retry.attempts", "backfeed.max_body_bytes"} <= set(
        NUMBERS
    )
    assert {"backfeed.public_reads", "backfeed.create_schema", "backfeed.rate_limits"} <= set(
        FLAGS
    )


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf", "garbage", "", "1e40"])
@pytest.mark.parametrize("name", NUMBERS)
def test_a_number_setting_refuses_what_is_not_a_usable_number(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{name} must be .*, not '{value}'$"):
        check({name: value})


@pytest.mark.parametrize("value", ["garbage", "2", "", "t"])
@pytest.mark.parametrize("name", FLAGS)
def test_a_flag_refuses_what_is_not_true_or_false(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{name} must be true or false"):
        check({name: value})


@pytest.mark.parametrize(("value", "hours"), [("24", 24), ("0.5", 0.5), ("876000", 876000)])
def test_idempotency_hours_is_a_duration(value: str, hours: float) -> None:
    assert IDEMPOTENCY_RETENTION.read({"backfeed.idempotency_hours": value}) == timedelta(
        hours=hours
    )


def test_idempotency_hours_beyond_a_century_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"backfeed\.idempotency_hours"):
        IDEMPOTENCY_RETENTION.read({"backfeed.idempotency_hours": "876001"})


@pytest.mark.parametrize("value", ["0", "2.5", "101"])
def test_retry_attempts_is_a_count_of_one_to_a_hundred(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"retry\.attempts"):
        RETRY_ATTEMPTS.read({"retry.attempts": value})
    assert RETRY_ATTEMPTS.read({}) == 3


def test_an_unknown_setting_is_refused_with_the_closest_name() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check({"backfeed.idempotency_hour": "2"})
    assert refused.value.message == (
        "backfeed.idempotency_hour is not a setting of the service "
        "(did you mean backfeed.idempotency_hours?)"
    )
    assert refused.value.field == "backfeed.idempotency_hour"


def test_settings_of_a_declared_family_are_known() -> None:
    check({"backfeed.contracts": "example", "backfeed.contract.example.beta": "0.5"})


@pytest.mark.parametrize(
    "settings",
    [
        {"backfeed.idempotency_hours": "-1"},
        {"backfeed.idempotency_hours": "nan"},
        {"backfeed.idempotency_hours": "a day"},
        {"retry.attempts": "three"},
        {"backfeed.public_reads": "maybe"},
        {"backfeed.create_schema": "sometimes"},
        {"backfeed.cros_origins": "https://app.example.org"},
    ],
)
def test_a_bad_setting_stops_the_start(
    make_app: Callable[..., TestApp], settings: dict[str, str]
) -> None:
    (name,) = settings
    with pytest.raises(ConfigurationError, match=f"^{name} "):
        make_app(**settings)


def test_the_retention_comes_from_the_setting(make_app: Callable[..., TestApp]) -> None:
    app = make_app(**{"backfeed.idempotency_hours": "0.5"})
    assert app.app.registry["idempotency_claims"].retention == timedelta(minutes=30)
    assert math.isclose(
        make_app().app.registry["idempotency_claims"].retention.total_seconds(), 24 * 3600
    )


@pytest.mark.usefixtures("make_app")  # which empties the database but for its contracts
def test_new_contract_rows_are_stamped_by_the_registry_clock(database_url: str) -> None:
    """The start-up that creates a contract's row (and its version 1) dates it by the
    registry's clock, as every request does, not by the wall clock."""
    clock = Clock()
    clock.advance(days=3)
    name = f"stamped{uuid.uuid4().hex[:8]}"
    contracts = f"{TEST_SETTINGS['backfeed.contracts']} {name}:example"
    settings = {"sqlalchemy.url": database_url, **TEST_SETTINGS, "backfeed.contracts": contracts}
    with Configurator(settings=settings) as config:
        config.registry["clock"] = clock
        config.include(wire)
    engine = config.registry["db_engine"]
    try:
        with Session(engine) as session, session.begin():
            row = session.scalars(sa.select(ContractRow).where(ContractRow.name == name)).one()
            assert row.created_at == clock.now
            [version] = session.scalars(
                sa.select(ContractVersion).where(ContractVersion.contract_id == row.id)
            )
            assert version.created_at == clock.now
            session.delete(version)
            session.flush()
            session.delete(row)
    finally:
        engine.dispose()


WALL_CLOCK = re.compile(r"\butc_now\(\)|datetime\.(now|utcnow|today)\(|\btime\.time\(\)")


def test_only_the_clock_and_the_commands_read_the_wall_clock() -> None:
    """The service stamps what it writes with the registry's clock (``request.now``, or the
    clock itself at start-up), so that tests and simulations can set the time; only the
    clock, the commands (which have no registry), the rate limits' reset time, which is
    the limits library's own wall-clock time, and the timestamp of a webhook's signature,
    which receivers check against their own wall clock, read the wall clock."""
    package = Path(__file__).resolve().parents[2] / "backfeed_api"
    allowed = {
        package / "clock.py",
        package / "pipeline" / "ratelimits.py",
        package / "worker" / "delivery.py",
    }
    readers = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path not in allowed and package / "cli" not in path.parents
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if WALL_CLOCK.search(line)
    ]
    assert not readers, readers
