"""gunicorn serving as ``production.ini`` has it serve, with several workers (``workers`` in
``[server:main]``): the master says where it listens, keeps that many workers alive,
replaces one that dies, stops them all on SIGTERM, and they do not outlive it even when it
is killed; request bodies are refused in the application's JSON; the proxy's headers are
believed. (Their writes are checked under load in ``test_load.py``; the hooks, without
servers, in ``tests/api/test_gunicorn_conf.py``.)
"""

from __future__ import annotations

import os
import signal
import socket

import pytest
import requests

from ..polling import eventually
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
    assert f"Worker (pid:{victim}) was sent SIGKILL!" in server.log_text()


def test_the_master_says_where_it_listens(server) -> None:
    assert f"Listening at: {server.url} ({server.pid})" in server.log_text()
    assert "Using worker: gthread" in server.log_text()


def test_sigterm_stops_every_worker_and_frees_the_port(server) -> None:
    workers = children(server.pid)
    server.stop()  # SIGTERM, and waits for the parent
    assert server.process.returncode == 0
    assert not any(alive(pid) for pid in workers)
    with socket.socket() as probe:
        probe.bind((HOST, server.port))


def test_workers_exit_when_the_parent_is_killed(server) -> None:
    workers = children(server.pid)
    os.kill(server.pid, signal.SIGKILL)  # to the master alone: it cannot tell its workers
    server.process.wait(timeout=STOP_TIMEOUT)
    assert eventually(lambda: not any(alive(pid) for pid in workers), STOP_TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=TIMEOUT)
