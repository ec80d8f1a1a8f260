"""Real servers for the concurrency tests and the load benchmark (no pytest in here).

- :func:`scratch_database`: a PostgreSQL database of its own, created and dropped again;
- :func:`write_ini`: a settings file shaped like ``production.ini`` for one server, with a
  development admin token that :func:`admin_session` sends;
- :class:`Server`: ``pserve`` (gunicorn, as ``production.ini`` serves) in a child process on
  127.0.0.1, started, waited for, killed (``SIGKILL``) and restarted on the same port, and
  stopped by its own PID;
- :func:`backfeed`: the ``backfeed`` command (``initdb``, ``check``) as a child process.

Every wait here is bounded in time; nothing listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests
import sqlalchemy as sa

BIN = Path(sys.executable).parent
"""The virtualenv's scripts, next to the interpreter running us (not resolved: a symlink)."""
PSERVE = BIN / "pserve"
BACKFEED = BIN / "backfeed"
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
COMMAND_TIMEOUT = 120.0
ADMIN_TOKEN = "concurrency-admin-token"
"""The development admin token of every server written here; :func:`admin_session` sends it."""

INI_TEMPLATE = """\
# Written by tests/concurrency/servers.py: production.ini, on 127.0.0.1 and a scratch database.
[app:main]
use = egg:backfeed-api
filter-with = proxy

sqlalchemy.url = {url}
sqlalchemy.pool_size = {pool_size}
sqlalchemy.max_overflow = 2
sqlalchemy.pool_pre_ping = true

backfeed.create_schema = false
backfeed.contracts = {contracts}
backfeed.dev_admin_token = {token}
{extra}
pyramid.reload_templates = false
pyramid.debug_authorization = false
pyramid.debug_notfound = false
pyramid.debug_routematch = false
pyramid.default_locale_name = en

[filter:proxy]
use = egg:backfeed-api#proxy
trusted_proxy = {host}
trusted_proxy_headers = x-forwarded-for x-forwarded-host x-forwarded-proto x-forwarded-port
clear_untrusted_proxy_headers = yes

[server:main]
use = egg:gunicorn#main
config = python:backfeed_api.gunicorn_conf
bind = {host}:{port}
workers = {workers}
threads = {threads}

[loggers]
keys = root, backfeed_api, sqlalchemy, gunicorn

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[logger_backfeed_api]
level = WARN
handlers =
qualname = backfeed_api

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_gunicorn]
level = INFO
handlers =
qualname = gunicorn.error

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s:%(lineno)s][%(threadName)s] %(message)s
"""


def child_environment() -> dict[str, str]:
    """Our environment without ``BACKFEED_DATABASE_URL``, which would override the ini."""
    environment = dict(os.environ)
    environment.pop("BACKFEED_DATABASE_URL", None)
    return environment


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def write_ini(
    path: Path,
    url: str,
    port: int,
    contracts: str = "example dmag",
    *,
    threads: int = 8,
    workers: int = 1,
    settings: dict[str, str] | None = None,
) -> Path:
    """Write a server's settings file to ``path`` and return it.

    Rate limits are off unless ``settings`` turn them on: the clients of the tests and of the
    bench all come from 127.0.0.1 (tests/api/test_rate_limits.py checks the limits).
    """
    settings = {"backfeed.rate_limits": "false", **(settings or {})}
    extra = "".join(f"{key} = {value}\n" for key, value in settings.items())
    path.write_text(
        INI_TEMPLATE.format(
            url=url,
            pool_size=threads,
            contracts=contracts,
            extra=extra,
            host=HOST,
            port=port,
            threads=threads,
            workers=workers,
            token=ADMIN_TOKEN,
        ),
        encoding="utf-8",
    )
    return path


def admin_session() -> requests.Session:
    """An HTTP session that sends the servers' admin token with every request."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    return session


def backfeed(*args: str | Path, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    """Run the ``backfeed`` command; its exit code and output, never raising on failure."""
    return subprocess.run(
        [str(BACKFEED), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_environment(),
        check=False,
    )


def initdb(ini: Path) -> None:
    """``backfeed initdb``: the schema and the contract rows, or an error with its output."""
    done = backfeed("initdb", ini)
    if done.returncode != 0:
        raise RuntimeError(f"backfeed initdb failed ({done.returncode}): {done.stderr}")


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at the database ``name`` instead."""
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    """Create the empty database ``name`` (dropping a leftover one), yield its URL, drop it.

    ``admin_url`` is any database of the server whose user may create databases.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield database_url(admin_url, name)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class ServerError(RuntimeError):
    """The server did not start, or died."""


class Server:
    """One ``pserve <ini>`` process on 127.0.0.1, its output appended to ``log``."""

    def __init__(self, ini: Path, port: int, log: Path) -> None:
        self.ini = ini
        self.port = port
        self.log = log
        self.url = f"http://{HOST}:{port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        """The PID of the running server process."""
        if self.process is None:
            raise ServerError("the server is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        """Whether the server process is alive (answering or not)."""
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> Server:
        """Start the process and wait until ``GET /`` answers 200 (at most ``timeout`` s)."""
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the process without waiting for it to answer."""
        if self.running:
            raise ServerError(f"{self.url} is already running as PID {self.process.pid}")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(PSERVE), str(self.ini)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
                start_new_session=True,  # a process group of its own: see kill()
            )
        self.starts += 1

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Poll ``GET /`` until it answers 200; raise with the log's end otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise ServerError(f"{self.url} exited at start-up:\n{self.log_tail()}")
            with suppress(requests.RequestException):
                if requests.get(self.url + "/", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.url} did not answer within {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """``kill -9`` the server, mid-whatever it is doing: the master and its workers (its
        process group), as a crash of the machine's server would; then reap it."""
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL if it lingers) and reap it."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def log_text(self) -> str:
        """Everything the server printed so far (all its runs)."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the log, for error messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_servers(
    directory: Path,
    url: str,
    count: int = 1,
    contracts: str = "example dmag",
    *,
    threads: int = 8,
    workers: int = 1,
    settings: dict[str, str] | None = None,
) -> list[Server]:
    """Write an ini for each of ``count`` servers on one database and start them all.

    On a failure the servers already started are stopped before the error propagates.
    """
    servers: list[Server] = []
    try:
        for number in range(count):
            port = free_port()
            ini = write_ini(
                directory / f"server{number}.ini",
                url,
                port,
                contracts,
                threads=threads,
                workers=workers,
                settings=settings,
            )
            server = Server(ini, port, directory / f"server{number}.log")
            servers.append(server)
            server.launch()
        for server in servers:  # they start side by side
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
