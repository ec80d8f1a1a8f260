"""The documentation builds without a warning, documents every route, and the quick start
in the README is the one in the docs."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

ROUTES = [
    "/",
    "/{contract}",
    "/{contract}/users",
    "/{contract}/users/{id}",
    "/{contract}/users/{id}/history",
    "/{contract}/ledger/{id}",
    "/{contract}/contributions",
    "/{contract}/contributions/{id}",
    "/{contract}/evaluations",
    "/{contract}/evaluations/{id}",
    "/{contract}/auth/tokens",
    "/__api__",
]

START = ".. quickstart-start"
END = ".. quickstart-end"


def quickstart(path: Path) -> str:
    """The text between the quick start markers of ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(START) == 1, f"{path.name}: expected one {START!r} marker"
    assert text.count(END) == 1, f"{path.name}: expected one {END!r} marker"
    shared = text.split(START, 1)[1].split(END, 1)[0]
    assert shared.strip(), f"{path.name}: the quick start is empty"
    return shared


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML documentation, built with warnings as errors."""
    out = tmp_path_factory.mktemp("html")
    doctrees = tmp_path_factory.mktemp("doctrees")
    command = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(doctrees)]
    result = subprocess.run(
        [*command, str(DOCS), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_docs_build_without_warnings(built: Path) -> None:
    pages = ("index", "quickstart", "api", "protocol", "plugins", "deployment", "security", "cli")
    for page in pages:
        assert (built / f"{page}.html").is_file(), page


def test_every_route_is_in_the_api_reference(built: Path) -> None:
    page = html.unescape((built / "api.html").read_text(encoding="utf-8"))
    headings = set(re.findall(r"<h[1-6]>(.*?)<a class=\"headerlink\"", page))
    titles = {re.sub(r"<[^>]+>", "", heading).strip() for heading in headings}
    missing = [route for route in ROUTES if route not in titles]
    assert not missing, f"routes without a section in api.html: {missing}"
    for route in ROUTES:
        assert f"GET {route}" in titles, f"GET {route} is not documented"


def test_readme_quick_start_is_the_documented_one() -> None:
    assert quickstart(ROOT / "README.rst") == quickstart(DOCS / "quickstart.rst")


def test_login_and_logout_are_in_the_api_reference(built: Path) -> None:
    page = html.unescape((built / "api.html").read_text(encoding="utf-8"))
    for heading in (
        "POST /{contract}/auth",
        "DELETE /{contract}/auth",
        "GET /{contract}/auth/tokens",
        "DELETE /{contract}/auth/tokens/{id}",
    ):
        assert heading in page, heading


SETTING = re.compile(r"[\"'](backfeed\.[a-z_]+)[\"']")
NOT_SETTINGS = {"backfeed.sqlite"}  # the default database file of ``backfeed serve``


def test_every_setting_is_in_the_settings_reference() -> None:
    """Each ``backfeed.*`` setting the code names has a row in docs/deployment.rst."""
    text = (DOCS / "deployment.rst").read_text(encoding="utf-8")
    table = text.split(".. settings-reference-start", 1)[1].split(".. settings-reference-end")[0]
    named = {
        name
        for path in (ROOT / "backfeed_api").rglob("*.py")
        for name in SETTING.findall(path.read_text(encoding="utf-8"))
    } - NOT_SETTINGS
    assert {"backfeed.public_reads", "backfeed.max_body_bytes", "backfeed.cors_origins"} <= named
    missing = sorted(name for name in named if f"``{name}``" not in table)
    assert not missing, f"settings missing from the settings reference: {missing}"
