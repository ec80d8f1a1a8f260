"""A live server for the client's tests: ``pserve`` on 127.0.0.1 and a SQLite file, with
allowances on one contract and webhooks delivered in-process; stopped by its PID at the end
of the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backfeed_api.client import Client
from tests.concurrency.servers import ADMIN_TOKEN, Server, free_port, initdb, write_ini

CONTRACTS = "example limited:example"
SETTINGS = {
    "backfeed.contract.limited.evaluations_per_day": "1",
    # webhooks to the tests' receiver on 127.0.0.1, delivered by the server itself
    "backfeed.webhooks.allow_private_targets": "true",
    "backfeed.worker.in_process": "true",
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("client-server")
    port = free_port()
    url = f"sqlite:///{directory / 'client.sqlite'}"
    ini = write_ini(directory / "server.ini", url, port, CONTRACTS, threads=4, settings=SETTINGS)
    initdb(ini)
    started = Server(ini, port, directory / "server.log").start()
    yield started
    started.stop()


@pytest.fixture
def admin(server: Server) -> Iterator[Client]:
    """A client of ``example`` with the server's admin token."""
    with Client(server.url, "example", token=ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
def anonymous(server: Server) -> Iterator[Client]:
    """A client of ``example`` without a token."""
    with Client(server.url, "example") as client:
        yield client
