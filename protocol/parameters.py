"""Contract parameters as immutable, validated values.

A contract kind ships default :class:`ContractParameters`; a contract *instance* may change
some of them with overrides such as ``{"beta": 0.4, "article.fee": 2}``. Every value is checked
when the parameters are built, so a bad configuration fails at start-up, not mid-request.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from .bounds import MAX_BALANCE
from .errors import InvalidParameter

Number = int | float

MAX_VOTE_CHANGES = 10**9
"""The largest ``max_vote_changes``: beyond any real use, and exact in every JSON client."""


def _check_number(
    name: str, value: Any, *, minimum: float = 0.0, maximum: float = math.inf
) -> float:
    """Return ``value`` as a finite float in [minimum, maximum], or raise InvalidParameter."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"{name} must be a number, not {value!r}", name)
    if not math.isfinite(value):
        raise InvalidParameter(f"{name} must be a finite number, not {value!r}", name)
    if value < minimum:
        raise InvalidParameter(f"{name} must be at least {minimum:g}, not {value!r}", name)
    if value > maximum:
        raise InvalidParameter(f"{name} must be at most {maximum:g}, not {value!r}", name)
    return float(value)


def _check_count(name: str, value: Any, *, maximum: int) -> int:
    """Return ``value`` as a whole number from 0 to ``maximum``, or raise InvalidParameter."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{name} must be a whole number, not {value!r}", name)
    if not 0 <= value <= maximum:
        raise InvalidParameter(f"{name} must be from 0 to {maximum:,}, not {value!r}", name)
    return value


def _check_flag(name: str, value: Any) -> bool:
    """Return ``value`` as a bool; only real booleans are accepted."""
    if not isinstance(value, bool):
        raise InvalidParameter(f"{name} must be true or false, not {value!r}", name)
    return value


def _check_evaluation_set(name: str, values: Any) -> tuple[float, ...]:
    """Return the evaluation set as distinct finite numbers (``true`` counts as 1)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidParameter(f"{name} must be a list of numbers, not {values!r}", name)
    numbers = tuple(
        _check_number(name, float(v) if isinstance(v, bool) else v, minimum=-math.inf)
        for v in values
    )
    if not numbers:
        raise InvalidParameter(f"{name} must not be empty", name)
    if len(set(numbers)) != len(numbers):
        raise InvalidParameter(f"{name} must not repeat a value", name)
    return numbers


@dataclass(frozen=True)
class ContributionType:
    """The rules of one kind of contribution (article, comment…) in a contract."""

    name: str
    fee: float
    evaluation_set: tuple[float, ...]
    stake: float = 0.0
    distribution_stake: float = 0.0
    reputation_reward_factor: float = 0.0
    token_reward_factor: float = 0.0
    reward_threshold: float = 0.0
    token_fund_for_evaluators: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameter("a contribution type needs a name", "name")
        for f in fields(self):
            value = getattr(self, f.name)
            label = f"{self.name}.{f.name}"
            if f.name == "evaluation_set":
                object.__setattr__(self, f.name, _check_evaluation_set(label, value))
            elif f.name != "name":
                # A stake above 1 could charge an evaluator more than all its reputation.
                maximum = {"stake": 1.0, "token_fund_for_evaluators": MAX_BALANCE}.get(
                    f.name, math.inf
                )
                object.__setattr__(self, f.name, _check_number(label, value, maximum=maximum))

    def accepts(self, value: float) -> bool:
        """Whether ``value`` is one of this type's allowed votes."""
        return float(value) in self.evaluation_set


ALLOWANCES = ("evaluations_per_day", "evaluations_per_contributor_per_day")
"""The parameters that bound how many evaluations an evaluator casts in a day (off when
None)."""


@dataclass(frozen=True)
class ContractParameters:
    """Contract-wide parameters and the contract's contribution types."""

    user_initial_tokens: float
    user_initial_reputation: float
    types: Mapping[str, ContributionType]
    beta: float = 0.0
    alpha: float = 0.0
    referral_reward_fraction: float = 0.2
    referral_timeframe_days: float = 30.0
    reward_tokens_to_evaluators: bool = False
    allow_self_evaluation: bool = False
    """Whether a contributor may vote on its own contributions."""
    max_vote_changes: int = 5
    """How many times one evaluator may change its value on one contribution."""
    evaluations_per_day: int | None = None
    """How many evaluations one evaluator may cast in a UTC day; None: no allowance."""
    evaluations_per_contributor_per_day: int | None = None
    """How many evaluations one evaluator may cast in a UTC day on the contributions of one
    contributor; None: no allowance."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "types":
                continue
            value = getattr(self, f.name)
            if f.name in ("reward_tokens_to_evaluators", "allow_self_evaluation"):
                object.__setattr__(self, f.name, _check_flag(f.name, value))
            elif f.name == "max_vote_changes":
                checked = _check_count(f.name, value, maximum=MAX_VOTE_CHANGES)
                object.__setattr__(self, f.name, checked)
            elif f.name in ALLOWANCES:
                if value is not None:
                    checked = _check_count(f.name, value, maximum=MAX_VOTE_CHANGES)
                    object.__setattr__(self, f.name, checked)
            else:
                maximum = MAX_BALANCE if f.name.startswith("user_initial_") else math.inf
                object.__setattr__(self, f.name, _check_number(f.name, value, maximum=maximum))
        types = dict(self.types)
        if not types:
            raise InvalidParameter("a contract needs at least one contribution type", "types")
        for key, contribution_type in types.items():
            if (
                not isinstance(contribution_type, ContributionType)
                or contribution_type.name != key
            ):
                raise InvalidParameter(f"contribution type {key!r} is malformed", "types")
        ordered = {name: types[name] for name in sorted(types)}
        object.__setattr__(self, "types", MappingProxyType(ordered))

    @property
    def default_type(self) -> str:
        """The type used when a contribution names none: the first name alphabetically."""
        return next(iter(self.types))

    def with_overrides(self, overrides: Mapping[str, Any]) -> ContractParameters:
        """Return a copy with some parameters replaced.

        Keys are contract-wide parameter names (``beta``) or ``<type>.<parameter>``
        (``article.fee``). Unknown keys and invalid values raise :class:`InvalidParameter`.
        """
        contract_wide: dict[str, Any] = {}
        per_type: dict[str, dict[str, Any]] = {}
        type_fields = {f.name for f in fields(ContributionType)} - {"name"}
        scalar_fields = {f.name for f in fields(self)} - {"types"}
        for key, value in overrides.items():
            type_name, dot, parameter = key.partition(".")
            if not dot:
                if key in type_fields:
                    raise InvalidParameter(
                        f"{key!r} is a parameter of each contribution type: name it "
                        f"<type>.{key} ({', '.join(f'{name}.{key}' for name in self.types)})",
                        key,
                    )
                if key not in scalar_fields:
                    raise InvalidParameter(
                        f"unknown contract parameter {key!r}: the contract's are "
                        f"{_listed(scalar_fields)}; a contribution type's are named "
                        f"<type>.<parameter>",
                        key,
                    )
                contract_wide[key] = value
            elif type_name not in self.types:
                raise InvalidParameter(
                    f"unknown contribution type {type_name!r} in {key!r}: the types are "
                    f"{_listed(self.types)}",
                    key,
                )
            elif parameter not in type_fields:
                raise InvalidParameter(
                    f"unknown contribution type parameter {key!r}: a type's are "
                    f"{_listed(type_fields)}",
                    key,
                )
            else:
                per_type.setdefault(type_name, {})[parameter] = value
        types = {
            name: dataclasses.replace(contribution_type, **per_type.get(name, {}))
            for name, contribution_type in self.types.items()
        }
        return dataclasses.replace(self, types=types, **contract_wide)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view of every parameter, for clients and docs."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "types"}
        data["types"] = {
            name: dataclasses.asdict(contribution_type)
            for name, contribution_type in self.types.items()
        }
        for described in data["types"].values():
            described["evaluation_set"] = list(described["evaluation_set"])
        return data


def parse_override(text: str) -> Any:
    """Parse an override value from a settings file: a number, ``true`` or ``false``."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    try:
        return int(lowered)
    except ValueError:
        pass
    try:
        return float(lowered)
    except ValueError:
        raise InvalidParameter(f"override value {text!r} is not a number or boolean") from None


__all__ = ["ContractParameters", "ContributionType", "Number", "parse_override"]


def _listed(names: Iterable[str]) -> str:
    """``names`` in alphabetical order, for an error message that says what is known."""
    return ", ".join(sorted(names))
