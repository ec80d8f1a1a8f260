"""gunicorn as ``production.ini`` runs it, without servers: the settings its ``[server:main]``
gives, and the hooks of ``backfeed_api/gunicorn_conf.py`` (the servers themselves run in
``tests/concurrency/test_workers.py``)."""

from __future__ import annotations

import configparser
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from gunicorn.config import Config

from backfeed_api import gunicorn_conf, main
from backfeed_api.gunicorn_conf import YOUNG_COLLECTION_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]


def server_config(ini: Path) -> Config:
    """gunicorn's configuration from an ini's ``[server:main]``, read the way gunicorn's
    Paste server runner reads it: the ``config`` module, then the section's other keys."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini, encoding="utf-8")
    section = dict(parser["server:main"])
    assert section.pop("use") == "egg:gunicorn#main"
    assert section.pop("config") == "python:backfeed_api.gunicorn_conf"
    config = Config()
    for name, value in vars(gunicorn_conf).items():
        if name in config.settings:
            config.set(name, value)
    for name, value in section.items():
        config.set(name, value)  # an unknown key raises, as it stops gunicorn
    return config


def test_production_ini_runs_gunicorn_with_the_hooks() -> None:
    config = server_config(ROOT / "production.ini")
    assert config.worker_class_str == "gthread"
    assert config.preload_app is True
    assert config.control_socket_disable is True
    assert config.address == [("127.0.0.1", 6543)]
    assert (config.workers, config.threads) == (2, 8)
    assert config.post_fork is gunicorn_conf.post_fork
    assert config.when_ready is gunicorn_conf.when_ready
    assert config.on_starting is gunicorn_conf.on_starting


@pytest.fixture
def collector() -> Iterator[None]:
    """Python's garbage collector as it was, restored after the test."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def loaded(url: str, monkeypatch: pytest.MonkeyPatch):
    """The application on ``url``, as the only one the hooks find loaded (the test process
    holds others)."""
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    app = main({}, **{"sqlalchemy.url": url, "backfeed.create_schema": "true"})
    monkeypatch.setattr(gunicorn_conf, "global_registries", [app.registry])
    return app


@pytest.fixture
def sqlite_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An application on an SQLite file: one that gunicorn's workers may share."""
    app = loaded(f"sqlite:///{tmp_path / 'shared.sqlite'}", monkeypatch)
    yield app
    app.registry["db_engine"].dispose()


def test_before_forking_the_loaded_objects_are_frozen_and_collected_less_often(
    collector, sqlite_app
) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    gunicorn_conf.when_ready(None)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)


def test_before_forking_the_master_closes_its_connections(collector, sqlite_app) -> None:
    engine = sqlite_app.registry["db_engine"]
    with engine.connect():
        pass
    assert engine.pool.checkedin() == 1
    gunicorn_conf.when_ready(None)
    assert engine.pool.checkedin() == 0


def test_a_forked_worker_drops_the_pool_it_inherited(sqlite_app) -> None:
    engine = sqlite_app.registry["db_engine"]
    inherited = engine.pool
    with engine.connect() as connection:
        gunicorn_conf.post_fork(None, None)
        assert not connection.closed  # the master's connection is left alone
    assert engine.pool is not inherited


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(url, monkeypatch: pytest.MonkeyPatch) -> None:
    app = loaded(url, monkeypatch)
    try:
        with pytest.raises(RuntimeError, match="need a database they share"):
            gunicorn_conf.on_starting(None)
    finally:
        app.registry["db_engine"].dispose()


def test_an_sqlite_file_is_accepted(sqlite_app) -> None:
    gunicorn_conf.on_starting(None)  # no error
