"""Imports point down the layers only: the layer table of ``docs/architecture.rst``, checked.

Every module of ``protocol/`` and ``backfeed_api/`` belongs to one layer, and may import its
own layer and the layers below it, never one above. Every import counts: absolute and
relative, at the top of a module or inside a function. Two exceptions, both for imports that
add no dependency: the package root ``backfeed_api`` itself (Python has run it before any of
its modules, and it imports the wiring only inside ``main()``), and the imports under
``if TYPE_CHECKING:``, which exist for type hints only.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "backfeed_api")

# The layers, from the bottom up: (name, the packages and modules that make it up).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("engine", ("protocol",)),
    ("base", ("backfeed_api.settings", "backfeed_api.clock", "backfeed_api.errors")),
    ("models", ("backfeed_api.models",)),
    ("migrations", ("backfeed_api.migrations",)),
    ("auth", ("backfeed_api.auth",)),
    ("domain", ("backfeed_api.domain",)),
    ("worker", ("backfeed_api.worker",)),
    ("pipeline", ("backfeed_api.pipeline",)),
    ("api", ("backfeed_api.api",)),
    (
        "wiring",
        (
            "backfeed_api",
            "backfeed_api.app",
            "backfeed_api.execution",
            "backfeed_api.proxy",
            "backfeed_api.gunicorn_conf",
        ),
    ),
    ("cli", ("backfeed_api.cli",)),
]
# What the engine may import besides itself and the standard library.
ENGINE_THIRD_PARTY = {"numpy"}
PACKAGE_ROOT = "backfeed_api"


@dataclass(frozen=True)
class Import:
    """One import of a module: the module it names, and where."""

    module: str
    target: str
    line: int


def layer_of(module: str) -> int | None:
    """The rank of the module's layer (0 at the bottom), by its longest listed prefix; the
    package root stands for its ``__init__.py`` alone, not for the modules under it."""
    best: tuple[int, int] | None = None
    for rank, (_, members) in enumerate(LAYERS):
        for member in members:
            inside = member != PACKAGE_ROOT and module.startswith(member + ".")
            if module == member or inside:
                length = len(member)
                if best is None or length > best[0]:
                    best = (length, rank)
    return None if best is None else best[1]


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """(dotted name, is a package) of a source file under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def sources(root: Path) -> dict[str, tuple[Path, bool]]:
    """Every module of the two packages under ``root``: name -> (file, is a package)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name, is_package = module_name(path, root)
            found[name] = (path, is_package)
    return found


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def statements(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:``, at any depth."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, is_package: bool, source: str, known: set[str]) -> list[Import]:
    """The modules ``name`` imports, relative imports resolved, function-level ones included."""
    found = []
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in statements(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package[: len(package) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in known else base
                found.append(Import(name, target, node.lineno))
    return found


def upward_imports(root: Path) -> list[str]:
    """Every import under ``root`` that points up the layers, as readable lines."""
    modules = sources(root)
    known = set(modules)
    problems = []
    for name, (path, is_package) in modules.items():
        here = layer_of(name)
        if here is None:
            continue  # test_every_module_is_in_a_layer names it
        for found in imports_of(name, is_package, path.read_text(encoding="utf-8"), known):
            there = layer_of(found.target)
            if there is None or found.target == PACKAGE_ROOT or there <= here:
                continue
            problems.append(
                f"{path.relative_to(root)}:{found.line}: {name} ({LAYERS[here][0]}) imports "
                f"{found.target} ({LAYERS[there][0]})"
            )
    return problems


def test_every_module_is_in_a_layer() -> None:
    """A new module outside every listed package fails here until it finds its layer."""
    outside = [name for name in sources(ROOT) if layer_of(name) is None]
    assert not outside, f"modules in no layer (see docs/architecture.rst): {outside}"


def test_imports_only_point_down() -> None:
    problems = upward_imports(ROOT)
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_engine_imports_only_numpy_and_the_standard_library() -> None:
    """``protocol`` stays pure: no web framework, no database, no file formats, no plots."""
    modules = sources(ROOT)
    known = set(modules)
    foreign = sorted(
        f"{found.module} imports {found.target}"
        for name, (path, is_package) in modules.items()
        if name.startswith("protocol")
        for found in imports_of(name, is_package, path.read_text(encoding="utf-8"), known)
        if (top := found.target.split(".")[0]) != "protocol"
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


@pytest.fixture
def copied_tree(tmp_path: Path) -> Path:
    """A copy of the two packages, to plant imports in."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_the_copied_tree_is_clean(copied_tree: Path) -> None:
    assert upward_imports(copied_tree) == []


def test_a_module_outside_every_layer_is_caught(copied_tree: Path) -> None:
    (copied_tree / "backfeed_api" / "limits.py").write_text('"""New."""\n', encoding="utf-8")
    assert "backfeed_api.limits" in [n for n in sources(copied_tree) if layer_of(n) is None]


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        (PLANTED_AT_THE_TOP, "imports backfeed_api.api.presenters (api)"),
        (PLANTED_IN_A_FUNCTION, "imports backfeed_api.cli (cli)"),
    ],
)
def test_an_upward_import_is_caught(copied_tree: Path, planted: str, expected: str) -> None:
    users = copied_tree / "backfeed_api" / "domain" / "users.py"
    users.write_text(users.read_text(encoding="utf-8") + planted, encoding="utf-8")
    problems = upward_imports(copied_tree)
    assert len(problems) == 1, problems
    assert "backfeed_api.domain.users (domain)" in problems[0]
    assert problems[0].endswith(expected)


def test_the_engine_may_not_import_the_service(copied_tree: Path) -> None:
    runner = copied_tree / "protocol" / "scenarios" / "runner.py"
    text = runner.read_text(encoding="utf-8")
    runner.write_text(text + "\nfrom backfeed_api.settings import database_url\n", "utf-8")
    assert [p.split(": ", 1)[1] for p in upward_imports(copied_tree)] == [
        "protocol.scenarios.runner (engine) imports backfeed_api.settings (base)"
    ]


def test_type_checking_imports_and_the_package_root_do_not_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from .. import __version__\n"
        "if TYPE_CHECKING:\n"
        "    from ...api.presenters import iso\n"
    )
    found = imports_of("backfeed_api.auth.policy", False, source, set())
    assert sorted(i.target for i in found) == ["backfeed_api", "typing"]


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
    """docs/architecture.rst lists these layers in this order, each may import those below."""
    names = [name for name, _ in LAYERS]
    expected = [
        (name, list(members), names[:rank] or ["nothing"])
        for rank, (name, members) in enumerate(LAYERS)
    ]
    assert docs_layers() == expected
