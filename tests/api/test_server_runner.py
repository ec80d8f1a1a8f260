"""The server runner (``backfeed_api.workers``) without servers: its ``workers`` setting,
the garbage collector's tuning, and the databases several workers may share. (The workers
themselves are run in ``tests/concurrency/test_workers.py``.)"""

from __future__ import annotations

import gc

import pytest

from backfeed_api import main, workers
from backfeed_api.workers import YOUNG_COLLECTION_THRESHOLD, worker_count


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_a_worker_count_that_is_not_a_positive_whole_number_is_refused(value) -> None:
    with pytest.raises(ValueError, match="workers must be"):
        worker_count(value)


def test_worker_counts_are_read_from_the_settings_text() -> None:
    assert worker_count("3") == 3
    assert worker_count(1) == 1


@pytest.fixture
def collector():
    """Python's garbage collector as it was, restored after the test."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_serving_freezes_the_loaded_objects_and_collects_less_often(
    collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = []
    monkeypatch.setattr(workers.waitress, "serve", lambda app, **kw: served.append(kw))
    gc.unfreeze()
    workers.serve(object(), {}, workers="1", listen="127.0.0.1:0", threads="2")
    assert served == [{"listen": "127.0.0.1:0", "threads": "2"}]
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_several_workers_refuse_an_in_memory_database(
    collector, url, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = main({}, **{"sqlalchemy.url": url, "backfeed.create_schema": "true"})
    monkeypatch.setattr(workers, "bind", lambda settings: pytest.fail("must refuse first"))
    try:
        with pytest.raises(ValueError, match="need a database they share"):
            workers.serve(app, {}, workers="2", listen="127.0.0.1:0")
    finally:
        app.registry["db_engine"].dispose()


def test_several_workers_accept_an_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    app = main({}, **{"sqlalchemy.url": url, "backfeed.create_schema": "true"})
    try:
        workers.refuse_private_database(app)  # no error
    finally:
        app.registry["db_engine"].dispose()
