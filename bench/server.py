"""The server under test: the service on gunicorn, in a child process, as in production.

It is the service's own application (``egg:backfeed-api``) with the settings of
``production.ini`` where they matter for speed: PostgreSQL, gunicorn with as many worker
processes and threads as ``production.ini`` sets, a connection pool of one connection per
thread, logging at WARN.
The Pyramid setting ``pyramid.includes = bench.floor`` adds the floor endpoint; requests
carry stored admin tokens issued at seeding (``bench.seed``), looked up at every request as
in production, not the development token the settings also give. It listens on 127.0.0.1
on a free port and is stopped by its PID (the helpers of the concurrency tests).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.concurrency.servers import Server, free_port, write_ini

from .plan import ContractPlan
from .seed import contract_setting

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_INI = ROOT / "production.ini"


def production_server(option: str) -> int:
    """A number of ``production.ini``'s ``[server:main]``: ``workers`` or ``threads``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PRODUCTION_INI, encoding="utf-8")
    return parser.getint("server:main", option)


SETTINGS = {"pyramid.includes": "bench.floor"}
"""What the bench adds to the server's settings: the floor endpoint."""


@contextmanager
def serving(url: str, plans: Sequence[ContractPlan], directory: Path) -> Iterator[Server]:
    """Serve the contracts of ``plans`` from the database at ``url`` until the block ends;
    the settings file and the server's log go to ``directory``."""
    port = free_port()
    ini = write_ini(
        directory / "bench.ini",
        url,
        port,
        contract_setting(plans),
        threads=production_server("threads"),
        workers=production_server("workers"),
        settings=SETTINGS,
    )
    server = Server(ini, port, directory / "server.log")
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([saved] if saved else [])])
    try:  # the child imports bench.floor from the repository, like we do
        server.start()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    with server:
        yield server
