"""The documentation builds without a warning, documents every route, and the quick start
in the README is the one in the docs."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backfeed_api.api.responses import routes, services
from backfeed_api.errors import CODES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

ROUTES = sorted({(method, service.path) for service, method, _ in routes(services())})
"""(method, path) of every route of the Cornice services, ``/__api__`` included."""

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
    missing = [path for _, path in ROUTES if path not in titles]
    assert not missing, f"routes without a section in api.html: {missing}"
    for method, path in ROUTES:
        assert f"{method} {path}" in titles, f"{method} {path} is not documented"
    assert len(ROUTES) >= 17


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
# A read of the settings mapping: ``settings.get(``, ``.settings[...]`` not assigned to.
SETTINGS_READ = re.compile(r"settings(\(\))?\.get\(|settings\[[^\]]+\](?!\s*=[^=])")


def code_files() -> list[Path]:
    """Every module of the service."""
    return sorted((ROOT / "backfeed_api").rglob("*.py"))


def test_every_setting_named_in_the_code_is_declared() -> None:
    """A ``backfeed.*`` name in the code is a declared setting (or of a declared family)."""
    from backfeed_api.settings import DECLARED, undeclared

    named = {
        name for path in code_files() for name in SETTING.findall(path.read_text("utf-8"))
    } - NOT_SETTINGS
    assert {"backfeed.public_reads", "backfeed.max_body_bytes", "backfeed.cors_origins"} <= named
    assert undeclared(dict.fromkeys(named)) == []
    assert "backfeed.idempotency_hours" in DECLARED


def test_settings_are_read_only_through_their_declarations() -> None:
    """Outside ``backfeed_api/settings.py`` no module reads the settings mapping itself."""
    door = ROOT / "backfeed_api" / "settings.py"
    reads = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in code_files()
        if path != door
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if SETTINGS_READ.search(line)
    ]
    assert not reads, "settings read outside backfeed_api/settings.py:\n" + "\n".join(reads)


def test_the_read_pattern_sees_reads_and_not_writes() -> None:
    for read in ('config.get_settings().get("x", 1)', 'request.registry.settings["x"]'):
        assert SETTINGS_READ.search(read), read
    for write in ('settings["tm.annotate_user"] = False', "settings.setdefault('x', 1)"):
        assert not SETTINGS_READ.search(write), write


def cell_text(cell: str) -> str:
    """The text of an HTML table cell, with Sphinx's curly apostrophes made straight."""
    return " ".join(
        html.unescape(re.sub(r"<[^>]+>", " ", cell))
        .replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")
        .split()
    )


def settings_rows(built: Path) -> list[list[str]]:
    """The cells of the settings reference in deployment.html, as text, header left out."""
    page = (built / "deployment.html").read_text(encoding="utf-8")
    table = page.split('id="settings"', 1)[1].split("<table", 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [cell_text(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_settings_reference_is_the_declarations(built: Path) -> None:
    """deployment.html shows every declared setting, in order, with its default and doc."""
    from backfeed_api.settings import DECLARED

    def plain(rst: str) -> str:  # the text up to its first cross-reference, no markup or spaces
        return "".join(rst.split(":ref:")[0].replace("``", "").split())

    rows = settings_rows(built)
    assert [row[0] for row in rows] == list(DECLARED)
    for (name, default, meaning), setting in zip(rows, DECLARED.values(), strict=True):
        assert "".join(default.split()) == plain(setting.default_text), name
        assert re.sub(r"\s", "", meaning).startswith(plain(setting.doc)), name


def test_the_settings_reference_is_not_kept_by_hand() -> None:
    """deployment.rst generates the table; a hand-written row there would go stale."""
    text = (DOCS / "deployment.rst").read_text(encoding="utf-8")
    assert text.count(".. backfeed-settings::") == 1
    assert not re.search(r"^\s*\* - ``(backfeed|sqlalchemy|retry)\.", text, re.M)


def test_every_error_code_is_in_the_api_reference(built: Path) -> None:
    """The table of error codes lists :data:`backfeed_api.errors.CODES`, and no other."""
    page = html.unescape((built / "api.html").read_text(encoding="utf-8"))
    table = page.split('id="error-codes"', 1)[1].split("</table>", 1)[0]
    listed = re.findall(r'<span class="pre">([a-z_]+)</span></code></p></td>', table)
    assert listed == list(CODES)
