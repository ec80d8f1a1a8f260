"""Imports point down the layers only: the layer table of ``docs/architecture.rst``, checked.

The layers are import-linter contracts in ``pyproject.toml``: a ``layers`` contract over
``backfeed_api`` (``exhaustive``, so a module given no layer fails it) and a ``forbidden``
one keeping the engine, ``protocol``, from importing the service. import-linter reads every
import, absolute and relative, at the top of a module or inside a function. Two exceptions,
both for imports that add no dependency: the package root ``backfeed_api`` belongs to no
layer (Python has run it before any of its modules, and it imports the wiring only inside
``main()``), and the imports under ``if TYPE_CHECKING:``, which exist for type hints only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"
PACKAGES = ("protocol", "backfeed_api")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# What the engine may import besides itself and the standard library.
ENGINE_THIRD_PARTY = {"numpy"}


def contracts() -> dict[str, dict]:
    """The import-linter contracts of ``pyproject.toml``, by id."""
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter run on the packages under ``root`` with the project's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), str(CONFIG), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": ""},
        timeout=120,
    )


def said(result: subprocess.CompletedProcess) -> str:
    """What import-linter printed, each run of spaces made one."""
    return " ".join(result.stdout.split())


def test_imports_only_point_down() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in said(result)


def test_the_engine_imports_only_numpy_and_the_standard_library() -> None:
    """``protocol`` stays pure: no web framework, no database, no file formats, no plots."""
    graph = grimp.build_graph(
        "protocol", include_external_packages=True, exclude_type_checking_imports=True
    )
    foreign = sorted(
        f"{module} imports {target}"
        for module in graph.modules
        if module.split(".")[0] == "protocol"
        for target in graph.find_modules_directly_imported_by(module)
        if (top := target.split(".")[0]) != "protocol"
        and top not in sys.stdlib_module_names
        and top not in ENGINE_THIRD_PARTY
    )
    assert not foreign, foreign


PLANTED_AT_THE_TOP = "from ..api.presenters import iso  # planted\n"
PLANTED_IN_A_FUNCTION = """

def planted() -> None:
    from backfeed_api.cli import main  # planted

    main()
"""
PLANTED_FOR_TYPES = """
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..api.presenters import iso  # planted
"""


@pytest.fixture
def copied_tree(tmp_path: Path) -> Path:
    """A copy of the two packages, to plant imports in."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def plant(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_the_copied_tree_is_clean(copied_tree: Path) -> None:
    assert lint_imports(copied_tree).returncode == 0


def test_type_checking_imports_do_not_count(copied_tree: Path) -> None:
    plant(copied_tree / "backfeed_api" / "domain" / "users.py", PLANTED_FOR_TYPES)
    result = lint_imports(copied_tree)
    assert result.returncode == 0, result.stdout


def test_a_module_outside_every_layer_is_caught(copied_tree: Path) -> None:
    (copied_tree / "backfeed_api" / "limits.py").write_text('"""New."""\n', encoding="utf-8")
    result = lint_imports(copied_tree)
    assert result.returncode == 1
    assert "backfeed_api.limits" in said(result)


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        (PLANTED_AT_THE_TOP, "- backfeed_api.domain.users -> backfeed_api.api.presenters"),
        (PLANTED_IN_A_FUNCTION, "- backfeed_api.domain.users -> backfeed_api.cli (l."),
    ],
)
def test_an_upward_import_is_caught(copied_tree: Path, planted: str, expected: str) -> None:
    plant(copied_tree / "backfeed_api" / "domain" / "users.py", planted)
    result = lint_imports(copied_tree)
    assert result.returncode == 1
    assert "Contracts: 1 kept, 1 broken." in said(result)
    assert expected in said(result)


def test_the_engine_may_not_import_the_service(copied_tree: Path) -> None:
    runner = copied_tree / "protocol" / "scenarios" / "runner.py"
    plant(runner, "\nfrom backfeed_api.settings import database_url\n")
    result = lint_imports(copied_tree)
    assert result.returncode == 1
    assert "the engine does not import the service BROKEN" in said(result)
    assert "- protocol.scenarios.runner -> backfeed_api.settings (l." in said(result)


def test_the_package_root_may_be_imported_from_anywhere(copied_tree: Path) -> None:
    """The views read ``__version__`` from the root, which reaches the wiring in main()."""
    plant(copied_tree / "backfeed_api" / "domain" / "users.py", "\nfrom .. import __version__\n")
    assert lint_imports(copied_tree).returncode == 0


def docs_layers() -> list[tuple[str, list[str], list[str]]]:
    """The rows of the layer table in docs/architecture.rst: (layer, members, may import)."""
    text = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    table = text.split(".. layers-start", 1)[1].split(".. layers-end", 1)[0]
    rows = []
    for row in re.split(r"\n\s*\* - ", table)[1:]:
        cells = [cell.strip() for cell in re.split(r"\n\s*- ", row)]
        layer, members, allowed = cells[0], cells[1], cells[2]
        layers_below = re.findall(r"\w+", allowed.split("(")[0])
        rows.append((layer, re.findall(r"``([\w.]+)``", members), layers_below))
    return rows[1:]  # the header row


def test_the_docs_state_the_same_layers() -> None:
    """docs/architecture.rst lists the contracts' layers in this order, from the bottom up,
    each allowed to import those below; the engine under them all."""
    layers = contracts()["layers"]
    (container,) = layers["containers"]
    members = [["protocol"]] + [
        [f"{container}.{name.strip()}" for name in layer.split(":")]
        for layer in reversed(layers["layers"])
    ]
    rows = docs_layers()
    names = [name for name, _, _ in rows]
    assert [row_members for _, row_members, _ in rows] == members
    assert [allowed for _, _, allowed in rows] == [
        names[:rank] or ["nothing"] for rank in range(len(rows))
    ]
    assert contracts()["engine"]["source_modules"] == ["protocol"]
