"""Reading a scenario file: JSON or YAML, chosen by the file's extension."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol.scenarios.scenario import Scenario, ScenarioError, parse_scenario

SUFFIXES = (".json", ".yaml", ".yml")


def load_scenario(path: str | Path) -> Scenario:
    """Read, decode and check the scenario file at ``path``.

    Every problem (missing file, bad syntax, wrong shape) becomes a one-line
    :class:`ScenarioError` that starts with the file name, ready to show a person.
    """
    path = Path(path)
    try:
        return parse_scenario(_decode(path))
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from None


def _decode(path: Path) -> Any:
    """The document in ``path``, decoded according to its extension."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"unsupported file type {suffix!r}; use {', '.join(SUFFIXES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"cannot read the file: {_one_line(error)}") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ScenarioError(f"invalid JSON: {error}") from None
    import yaml  # only YAML scenarios pay for the import

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScenarioError(f"invalid YAML: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    """An exception's message with its line breaks and repeated blanks folded away."""
    text = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return " ".join(text.split())
