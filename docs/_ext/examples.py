"""Example requests and responses recorded from the real application at build time.

The first ``.. backfeed-example:: <name>`` directive of a build creates the application on a
temporary SQLite file, drives it with WebTest through reference scenario 1 of the protocol
(Ann writes an article, Bonnie votes for it) plus a few refused requests and a login, and
keeps every exchange. Writes carry the development admin token of ``development.ini``. Each
directive then shows one exchange, request and response, as HTTP text. The documents shown
are therefore always the ones the code produces.

The scenario's balances are checked against the reference numbers that the quick start
quotes; a difference is a build warning, so ``sphinx-build -W`` fails on it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1:6543"
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
CONTRACTS = "example dmag whitepaper1"

# (name, method, path, JSON body or None, expected status)
SCENARIO = [
    ("service", "GET", "/", None, 200),
    ("create-ann", "POST", "/example/users", {"reputation": 10, "tokens": 10}, 201),
    ("create-bonnie", "POST", "/example/users", {"reputation": 100, "tokens": 99}, 201),
    (
        "create-article",
        "POST",
        "/example/contributions",
        {"contributor_id": 1, "type": "article"},
        201,
    ),
    (
        "dry-vote",
        "POST",
        "/example/evaluations?dry_run=true",
        {"evaluator_id": 2, "contribution_id": 1, "value": 1},
        200,
    ),
    (
        "vote",
        "POST",
        "/example/evaluations",
        {"evaluator_id": 2, "contribution_id": 1, "value": 1},
        201,
    ),
    (
        "repeat-vote",
        "POST",
        "/example/evaluations",
        {"evaluator_id": 2, "contribution_id": 1, "value": 1},
        200,
    ),
    ("list-contributions", "GET", "/example/contributions?order_by=-score", None, 200),
    ("ann", "GET", "/example/users/1", None, 200),
    ("bonnie", "GET", "/example/users/2", None, 200),
    ("history", "GET", "/example/users/1/history", None, 200),
    ("bonnie-history", "GET", "/example/users/2/history", None, 200),
    ("ledger-entry", "GET", "/example/ledger/4", None, 200),
    ("contract", "GET", "/example", None, 200),
    (
        "error-value",
        "POST",
        "/example/evaluations",
        {"evaluator_id": 2, "contribution_id": 1, "value": 2},
        400,
    ),
    ("error-field", "POST", "/example/users", {"karma": 5}, 400),
    ("error-limit", "GET", "/example/users?limit=5000", None, 400),
    ("error-not-found", "GET", "/example/users/99", None, 404),
    ("error-no-token", "POST", "/example/users", {"tokens": 1000000}, 401),
    (
        "create-carol",
        "POST",
        "/example/users",
        {"username": "carol", "password": "correct horse battery"},
        201,
    ),
    (
        "login",
        "POST",
        "/example/auth",
        {"username": "carol", "password": "correct horse battery"},
        201,
    ),
    (
        "error-login",
        "POST",
        "/example/auth",
        {"username": "carol", "password": "wrong"},
        401,
    ),
]
DEV_TOKEN = "dev-admin-token"
"""The development admin token of ``development.ini``, which the examples' writes send."""
ANONYMOUS = {"service", "error-no-token", "login", "error-login"}
"""The examples sent without a token: the reads are public, logging in needs none."""

# The reference numbers of scenario 1 (docs/protocol.rst), also quoted in the quick start.
EXPECTED = {
    ("bonnie", "reputation"): 99.90692517849118,
    ("ann", "tokens"): 54.45454545454545,
    ("ann", "reputation"): 14.545454545454545,
}


@dataclass(frozen=True)
class Exchange:
    """One request to the application and its response."""

    method: str
    path: str
    body: dict | None
    status: str
    headers: list[tuple[str, str]]
    response: object
    token: str | None = None

    def request_text(self) -> str:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {HOST}"]
        if self.token is not None:
            lines.append(f"Authorization: Bearer {self.token}")
        if self.body is not None:
            lines += ["Content-Type: application/json", "", json.dumps(self.body)]
        return "\n".join(lines)

    def response_text(self) -> str:
        lines = [f"HTTP/1.1 {self.status}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return "\n".join([*lines, "", json.dumps(self.response, indent=2)])


class SteppingClock:
    """The application's clock: a fixed start, one second later at each request."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


@contextmanager
def without_database_variable():
    """Hide BACKFEED_DATABASE_URL, which would otherwise win over the temporary file."""
    saved = os.environ.pop("BACKFEED_DATABASE_URL", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["BACKFEED_DATABASE_URL"] = saved


def record_scenario() -> dict[str, Exchange]:
    """Run the scenario against a fresh application and return every exchange by name."""
    from webtest import TestApp

    from backfeed_api import main

    recorded: dict[str, Exchange] = {}
    with tempfile.TemporaryDirectory(prefix="backfeed-docs-") as folder:
        url = f"sqlite:///{Path(folder) / 'examples.sqlite'}"
        with without_database_variable():
            app = main(
                {},
                **{
                    "sqlalchemy.url": url,
                    "backfeed.create_schema": "true",
                    "backfeed.contracts": CONTRACTS,
                    "backfeed.dev_admin_token": DEV_TOKEN,
                },
            )
        app.registry["clock"] = SteppingClock(START)
        client = TestApp(app, extra_environ={"HTTP_HOST": HOST})
        try:
            for name, method, path, body, status in SCENARIO:
                token = None if name in ANONYMOUS or method == "GET" else DEV_TOKEN
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if method == "POST":
                    response = client.post_json(path, body, headers=headers, status="*")
                else:
                    response = client.get(path, headers=headers, status="*")
                if response.status_int != status:
                    raise ExtensionError(
                        f"example {name!r}: {method} {path} answered {response.status}, "
                        f"expected {status}: {response.text[:500]}"
                    )
                shown = [("Content-Type", response.content_type)]
                for header in ("WWW-Authenticate", "Cache-Control", "Location"):
                    if header in response.headers:
                        shown.insert(0, (header, response.headers[header]))
                recorded[name] = Exchange(
                    method, path, body, response.status, shown, response.json, token
                )
        finally:
            app.registry["db_engine"].dispose()
    check_reference_numbers(recorded)
    return recorded


def check_reference_numbers(recorded: dict[str, Exchange]) -> None:
    """Warn when scenario 1 no longer gives the numbers the docs quote."""
    for (user, balance), expected in EXPECTED.items():
        actual = recorded[user].response[balance]
        if not math.isclose(actual, expected, rel_tol=1e-12):
            logger.warning(
                "scenario 1: %s has %r %s, the documentation says %r",
                user,
                actual,
                balance,
                expected,
            )


_lock = threading.Lock()
_recorded: dict[str, Exchange] | None = None


def recorded_exchanges() -> dict[str, Exchange]:
    """The exchanges of this build, recorded on first use."""
    global _recorded
    with _lock:
        if _recorded is None:
            _recorded = record_scenario()
        return _recorded


class ExampleDirective(SphinxDirective):
    """``.. backfeed-example:: <name>``: a recorded request and its response.

    ``:response-only:`` leaves the request out.
    """

    required_arguments = 1
    option_spec = {"response-only": directives.flag}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        for package in ("backfeed_api", "protocol"):  # re-read the page when the code changes
            for path in sorted((ROOT / package).rglob("*.py")):
                self.env.note_dependency(str(path))
        exchanges = recorded_exchanges()
        if name not in exchanges:
            known = ", ".join(exchanges)
            raise self.error(f"no example called {name!r}; there are: {known}")
        exchange = exchanges[name]
        blocks = []
        if "response-only" not in self.options:
            blocks.append(self._block(exchange.request_text(), "request"))
        blocks.append(self._block(exchange.response_text(), "response"))
        return blocks

    def _block(self, text: str, kind: str) -> nodes.literal_block:
        block = nodes.literal_block(text, text, language="http", classes=[f"example-{kind}"])
        self.set_source_info(block)
        return block


def setup(app: Sphinx) -> dict:
    """Register the directive."""
    app.add_directive("backfeed-example", ExampleDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
