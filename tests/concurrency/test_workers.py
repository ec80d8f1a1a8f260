"""A server of several worker processes (``workers`` in ``[server:main]``): the parent keeps
that many alive, replaces one that dies, stops them all on SIGTERM, and they do not outlive
it even when it is killed. (Their writes are checked under load in ``test_load.py``.)
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import time
from collections.abc import Callable

import pytest
import requests

from backfeed_api import main, workers
from backfeed_api.workers import YOUNG_COLLECTION_THRESHOLD, worker_count

from .servers import HOST, STOP_TIMEOUT, Server, admin_session

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

WORKERS = 2
TIMEOUT = 10.0


def children(pid: int) -> set[int]:
    """The PIDs of the living processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def answers(server: Server, count: int = 20) -> list[int]:
    """The statuses of ``count`` users created one after the other, each on a new
    connection (so that the kernel may hand it to any worker)."""
    statuses = []
    for _ in range(count):
        with admin_session() as session:
            response = session.post(f"{server.url}/example/users", json={}, timeout=TIMEOUT)
            statuses.append(response.status_code)
    return statuses


@pytest.fixture
def server(servers) -> Server:
    (started,) = servers(1, workers=WORKERS)
    assert eventually(lambda: len(children(started.pid)) == WORKERS)
    return started


def test_a_dead_worker_is_replaced_and_the_others_serve_meanwhile(server) -> None:
    victim = min(children(server.pid))
    os.kill(victim, signal.SIGKILL)
    assert answers(server) == [201] * 20
    assert eventually(lambda: len(children(server.pid)) == WORKERS)
    assert victim not in children(server.pid)
    assert answers(server) == [201] * 20
    assert f"worker {victim} exited (signal SIGKILL); replacing it" in server.log_text()


def test_sigterm_stops_every_worker_and_frees_the_port(server) -> None:
    workers = children(server.pid)
    server.stop()  # SIGTERM, and waits for the parent
    assert server.process.returncode == 0
    assert not any(alive(pid) for pid in workers)
    with socket.socket() as probe:
        probe.bind((HOST, server.port))


def test_workers_exit_when_the_parent_is_killed(server) -> None:
    workers = children(server.pid)
    server.kill()  # SIGKILL to the parent alone: it cannot tell its workers
    assert eventually(lambda: not any(alive(pid) for pid in workers), STOP_TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=TIMEOUT)


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
    url, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = main({}, **{"sqlalchemy.url": url, "backfeed.create_schema": "true"})
    monkeypatch.setattr(workers, "bind", lambda settings: pytest.fail("must refuse first"))
    try:
        with pytest.raises(ValueError, match="need a database they share"):
            workers.serve(app, {}, workers="2", listen="127.0.0.1:0")
    finally:
        gc.unfreeze()
        app.registry["db_engine"].dispose()


def test_several_workers_accept_an_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    app = main({}, **{"sqlalchemy.url": url, "backfeed.create_schema": "true"})
    try:
        workers.refuse_private_database(app)  # no error
    finally:
        app.registry["db_engine"].dispose()
