"""What a scenario is, and how a decoded scenario document is checked and turned into one.

A scenario names a contract kind (with optional parameter overrides), a starting community
(users, then contributions) and a list of steps. Users and contributions are referred to by
name. This module checks the *shape* of a document only: types, required and unknown keys.
Whether the names exist and whether the engine accepts each action is found out when the
scenario runs (see :mod:`.runner`), so that every problem is reported where it happens.

Document format (JSON or YAML)::

    contract: example            # an installed contract kind (required)
    description: free text       # optional, ignored
    overrides: {alpha: 0.7}      # optional contract parameter overrides
    users:                       # optional; reputation and tokens default to the kind's
      - {name: ann, reputation: 10, tokens: 10, referrer: bob}
    contributions:               # optional; type defaults to the kind's default type
      - {name: c1, contributor: ann, type: article}
    steps:                       # optional; each step is a mapping with exactly one key
      - evaluate: {evaluator: bonnie, contribution: c1, value: 1}
      - contribute: {name: c2, contributor: bonnie}
      - join: {name: carl, referrer: ann}
      - advance_days: 3
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class ScenarioError(ValueError):
    """A scenario that does not follow the format, or that names something that is not there."""


@dataclass(frozen=True)
class Join:
    """A user joins; balances left as None take the contract's defaults."""

    name: str
    reputation: float | None = None
    tokens: float | None = None
    referrer: str | None = None


@dataclass(frozen=True)
class Contribute:
    """A user makes a contribution (and pays its fee); None means the default type."""

    name: str
    contributor: str
    type: str | None = None


@dataclass(frozen=True)
class Evaluate:
    """A user votes ``value`` on a contribution."""

    evaluator: str
    contribution: str
    value: float


@dataclass(frozen=True)
class AdvanceDays:
    """The simulated clock moves forward, which matters for referral windows and decay."""

    days: float


Action = Join | Contribute | Evaluate | AdvanceDays


@dataclass(frozen=True)
class Scenario:
    """A contract and the actions to run through it.

    ``setup`` builds the starting community and is recorded as step 0; each entry of
    ``steps`` is then recorded as steps 1, 2, ... ``steps`` only needs ``len`` and iteration, so
    a generated scenario can produce its actions lazily.
    """

    contract: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    setup: Sequence[Action] = ()
    steps: Collection[Action] = ()


_TOP_LEVEL_KEYS = ("contract", "description", "overrides", "users", "contributions", "steps")


def parse_scenario(document: Any) -> Scenario:
    """Check a decoded JSON/YAML document and build the :class:`Scenario` it describes.

    Raises :class:`ScenarioError` naming the first entry at fault, so that a person can fix
    the file without reading a traceback.
    """
    top = _Entry(document, "the scenario", _TOP_LEVEL_KEYS)
    contract = top.text("contract")
    top.optional_text("description")
    overrides = top.mapping("overrides")
    for key in overrides:
        if not isinstance(key, str):
            raise ScenarioError(f"overrides: parameter names must be strings, not {key!r}")
    setup: list[Action] = [
        _join(item, f"users[{index}]") for index, item in enumerate(top.items("users"))
    ]
    setup += [
        _contribute(item, f"contributions[{index}]")
        for index, item in enumerate(top.items("contributions"))
    ]
    steps = [_step(item, number) for number, item in enumerate(top.items("steps"), start=1)]
    return Scenario(contract=contract, overrides=overrides, setup=setup, steps=steps)


_STEP_ACTIONS = ("advance_days", "contribute", "evaluate", "join")


def _step(item: Any, number: int) -> Action:
    """One entry of ``steps``: a mapping with exactly one key, the kind of action."""
    where = f"step {number}"
    if not isinstance(item, Mapping) or len(item) != 1:
        raise ScenarioError(
            f"{where}: must be a mapping with exactly one of {', '.join(_STEP_ACTIONS)}, "
            f"not {item!r}"
        )
    ((action, body),) = item.items()
    where = f"{where} ({action})"
    if action == "join":
        return _join(body, where)
    if action == "contribute":
        return _contribute(body, where)
    if action == "evaluate":
        return _evaluate(body, where)
    if action == "advance_days":
        return AdvanceDays(_days(body, where))
    raise ScenarioError(
        f"step {number}: unknown action {action!r}; use one of {', '.join(_STEP_ACTIONS)}"
    )


def _join(item: Any, where: str) -> Join:
    entry = _Entry(item, where, ("name", "reputation", "tokens", "referrer"))
    return Join(
        name=entry.text("name"),
        reputation=entry.optional_number("reputation"),
        tokens=entry.optional_number("tokens"),
        referrer=entry.optional_text("referrer"),
    )


def _contribute(item: Any, where: str) -> Contribute:
    entry = _Entry(item, where, ("name", "contributor", "type"))
    return Contribute(
        name=entry.text("name"),
        contributor=entry.text("contributor"),
        type=entry.optional_text("type"),
    )


def _evaluate(item: Any, where: str) -> Evaluate:
    entry = _Entry(item, where, ("evaluator", "contribution", "value"))
    return Evaluate(
        evaluator=entry.text("evaluator"),
        contribution=entry.text("contribution"),
        value=entry.vote("value"),
    )


def _days(value: Any, where: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ScenarioError(f"{where}: must be a number of days, at least 0, not {value!r}")
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Entry:
    """A mapping from the document, read key by key with errors that say where."""

    def __init__(self, item: Any, where: str, allowed: Sequence[str]) -> None:
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: must be a mapping, not {item!r}")
        unknown = [key for key in item if key not in allowed]
        if unknown:
            raise ScenarioError(
                f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}"
            )
        self.item = item
        self.where = where
        name = item.get("name")
        if isinstance(name, str) and name:
            self.where = f"{where} ({name!r})"

    def _fail(self, key: str, expected: str) -> ScenarioError:
        return ScenarioError(f"{self.where}: {key!r} must be {expected}, not {self.item[key]!r}")

    def _required(self, key: str) -> Any:
        if key not in self.item:
            raise ScenarioError(f"{self.where}: {key!r} is required")
        return self.item[key]

    def text(self, key: str) -> str:
        value = self._required(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if key in self.item else None

    def optional_number(self, key: str) -> float | None:
        if key not in self.item:
            return None
        value = self.item[key]
        if not _is_number(value):
            raise self._fail(key, "a number")
        return value

    def vote(self, key: str) -> float:
        value = self._required(key)
        if not isinstance(value, int | float):
            raise self._fail(key, "a number or a boolean")
        return value

    def mapping(self, key: str) -> dict[Any, Any]:
        value = self.item.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._fail(key, "a mapping")
        return dict(value)

    def items(self, key: str) -> list[Any]:
        value = self.item.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return value
