"""Fixtures of the browser tests: the application served on a free port of 127.0.0.1, and
Debian's Chromium driven headless by Playwright.

Chromium comes from the system (``make test`` installs Debian's ``chromium`` package when it
is missing and it may); without it these tests are skipped, except under ``CI=true``, where
a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
from webtest import TestApp

from ..waitress_server import serving

CHROMIUM = os.environ.get("BACKFEED_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium for the whole session."""
    if not shutil.which(CHROMIUM):
        message = f"no Chromium at {CHROMIUM} (make test installs Debian's chromium package)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@dataclass
class Served:
    """The application on a port of its own, its test client, and its base URL."""

    client: TestApp
    url: str


@pytest.fixture
def serve() -> Iterator[Callable[[TestApp], Served]]:
    """Serve a test client's application with waitress in a thread, until the test ends."""
    with ExitStack() as servers:

        def start(client: TestApp) -> Served:
            server = servers.enter_context(serving(client.app, threads=4))
            return Served(client, f"http://127.0.0.1:{server.effective_port}")

        yield start


@dataclass
class Watched:
    """What a page asked for and complained about."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser) -> Iterator[Callable[[str], tuple]]:
    """Open a URL in a fresh context, recording every request and every console error."""
    contexts = []

    def open_url(url: str):
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        watched = Watched()
        page.on("request", lambda request: watched.requests.append(request.url))
        page.on(
            "console",
            lambda message: (
                watched.errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        page.goto(url)
        return page, watched

    yield open_url
    for context in contexts:
        context.close()
