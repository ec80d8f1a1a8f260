"""Contract parameters: immutable values, validated when built, with overrides.

Every bad value must be refused with :class:`protocol.InvalidParameter` (and a message that
names the parameter) when the parameters are built, so that a misconfigured contract fails at
start-up instead of in the middle of a request.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

import protocol
from protocol import ContractParameters, ContributionType, InvalidParameter
from protocol.parameters import parse_override


@pytest.fixture
def article() -> ContributionType:
    """A valid contribution type to derive variations from."""
    return ContributionType(name="article", fee=1, evaluation_set=(0, 1), stake=0.02)


@pytest.fixture
def parameters(article: ContributionType) -> ContractParameters:
    """Valid contract parameters with two types, given out of alphabetical order."""
    comment = ContributionType(name="comment", fee=0.1, evaluation_set=(0, 1))
    return ContractParameters(
        user_initial_tokens=50,
        user_initial_reputation=20,
        beta=0.5,
        types={"comment": comment, "article": article},
    )


# -- immutability ------------------------------------------------------------------------------


def test_contribution_type_is_frozen(article: ContributionType) -> None:
    """A type's fields cannot be assigned."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.fee = 2  # type: ignore[misc]


def test_contract_parameters_are_frozen(parameters: ContractParameters) -> None:
    """Neither the fields nor the mapping of types can be changed."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        parameters.beta = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError):
        parameters.types["video"] = parameters.types["article"]  # type: ignore[index]


def test_types_are_copied(article: ContributionType) -> None:
    """Changing the dict the parameters were built from does not change them."""
    types = {"article": article}
    parameters = ContractParameters(user_initial_tokens=1, user_initial_reputation=1, types=types)
    types["other"] = article
    assert list(parameters.types) == ["article"]


def test_numbers_are_stored_as_floats(article: ContributionType) -> None:
    """Integers given for numeric fields become floats; the evaluation set a tuple."""
    assert isinstance(article.fee, float)
    assert article.evaluation_set == (0.0, 1.0)
    assert all(isinstance(value, float) for value in article.evaluation_set)


def test_booleans_count_as_numbers_in_the_evaluation_set() -> None:
    """``true`` is 1 and ``false`` is 0, as in whitepaper1's set."""
    kind = ContributionType(name="x", fee=0, evaluation_set=[True, False])
    assert kind.evaluation_set == (1.0, 0.0)
    assert kind.accepts(1)
    assert kind.accepts(False)
    assert not kind.accepts(0.5)


# -- defaults ----------------------------------------------------------------------------------


def test_default_type_is_the_first_alphabetically(parameters: ContractParameters) -> None:
    """Types are kept sorted, and the default is the first name."""
    assert list(parameters.types) == ["article", "comment"]
    assert parameters.default_type == "article"


@pytest.mark.parametrize(
    ("kind", "default"),
    [("example", "article"), ("dmag", "article"), ("whitepaper1", "contribution")],
)
def test_shipped_default_types(kind: str, default: str) -> None:
    """Each shipped kind's default type, also used when a contribution names none."""
    contract = protocol.create_contract(kind)
    assert contract.params.default_type == default
    assert contract.contribution_type(None).name == default


def test_as_dict_is_json_friendly(parameters: ContractParameters) -> None:
    """The dict view serialises to JSON and round-trips the values."""
    data = json.loads(json.dumps(parameters.as_dict()))
    assert data["beta"] == 0.5
    assert data["types"]["article"]["evaluation_set"] == [0, 1]
    assert data["types"]["comment"]["fee"] == 0.1


# -- overrides ---------------------------------------------------------------------------------


def test_overrides_replace_only_what_they_name() -> None:
    """Contract-wide and per-type overrides; the kind's defaults stay as they were."""
    defaults = protocol.create_contract("example").params
    contract = protocol.create_contract(
        "example",
        {"beta": 0.4, "article.fee": 2, "reward_tokens_to_evaluators": True},
    )
    params = contract.params
    assert params.beta == 0.4
    assert params.types["article"].fee == 2.0
    assert params.reward_tokens_to_evaluators is True
    assert params.types["article"].stake == defaults.types["article"].stake
    assert params.types["comment"] == defaults.types["comment"]
    assert defaults.beta == 0.5
    assert defaults.types["article"].fee == 1.0
    assert protocol.create_contract("example").params == defaults
    assert contract.overrides == {
        "beta": 0.4,
        "article.fee": 2,
        "reward_tokens_to_evaluators": True,
    }


@pytest.mark.parametrize("kind", ["example", "dmag", "whitepaper1"])
def test_vote_changes_are_limited_to_5_by_default(kind: str) -> None:
    """Every shipped kind lets an evaluator change its value 5 times per contribution."""
    params = protocol.create_contract(kind).params
    assert params.max_vote_changes == 5
    assert params.as_dict()["max_vote_changes"] == 5


@pytest.mark.parametrize("text", ["0", "12", "1000000000"])
def test_max_vote_changes_takes_a_settings_override(text: str) -> None:
    """A whole number from a settings file, 0 (no change at all) included."""
    contract = protocol.create_contract("example", {"max_vote_changes": parse_override(text)})
    assert contract.params.max_vote_changes == int(text)
    assert type(contract.params.max_vote_changes) is int


def test_evaluation_set_can_be_overridden() -> None:
    """A type's evaluation set is a parameter like the others."""
    contract = protocol.create_contract("example", {"comment.evaluation_set": [0, 1, 2]})
    assert contract.params.types["comment"].evaluation_set == (0.0, 1.0, 2.0)


def test_contract_name_defaults_to_kind() -> None:
    """An instance is named after its kind unless given a name."""
    assert protocol.create_contract("dmag").name == "dmag"
    assert protocol.create_contract("dmag", name="magazine").name == "magazine"


BAD_OVERRIDES: list[tuple[dict[str, Any], str]] = [
    ({"gamma": 1}, "gamma"),
    ({"types": {}}, "types"),
    ({"video.fee": 1}, "video"),
    ({"article.colour": 1}, "article.colour"),
    ({"stake": 1}, "article.stake, comment.stake"),  # a type's parameter, named as the contract's
    ({"article.name": "post"}, "article.name"),
    ({"article.fee": -1}, "article.fee"),
    ({"article.fee": math.nan}, "article.fee"),
    ({"article.fee": math.inf}, "article.fee"),
    ({"article.fee": "1"}, "article.fee"),
    ({"article.fee": None}, "article.fee"),
    ({"article.stake": True}, "article.stake"),
    ({"article.stake": 1.5}, "article.stake"),  # the fee could exceed the reputation
    ({"beta": True}, "beta"),
    ({"beta": -0.5}, "beta"),
    ({"alpha": -math.inf}, "alpha"),
    ({"user_initial_reputation": -1}, "user_initial_reputation"),
    ({"user_initial_tokens": math.nan}, "user_initial_tokens"),
    ({"referral_timeframe_days": "30"}, "referral_timeframe_days"),
    ({"reward_tokens_to_evaluators": 1}, "reward_tokens_to_evaluators"),
    ({"reward_tokens_to_evaluators": "true"}, "reward_tokens_to_evaluators"),
    ({"max_vote_changes": -1}, "max_vote_changes"),
    ({"max_vote_changes": 2.5}, "max_vote_changes"),
    ({"max_vote_changes": 5.0}, "max_vote_changes"),  # "5.0" in a settings file: say 5
    ({"max_vote_changes": True}, "max_vote_changes"),
    ({"max_vote_changes": "5"}, "max_vote_changes"),
    ({"max_vote_changes": 10**10}, "max_vote_changes"),
    ({"article.evaluation_set": []}, "article.evaluation_set"),
    ({"article.evaluation_set": [0, 0]}, "article.evaluation_set"),
    ({"article.evaluation_set": [0, math.nan]}, "article.evaluation_set"),
    ({"article.evaluation_set": ["a"]}, "article.evaluation_set"),
    ({"article.evaluation_set": 1}, "article.evaluation_set"),
    ({"article.evaluation_set": "01"}, "article.evaluation_set"),
]


@pytest.mark.parametrize(("overrides", "named"), BAD_OVERRIDES, ids=lambda x: str(x))
def test_bad_override_is_refused(overrides: dict[str, Any], named: str) -> None:
    """An unknown name or a bad value raises InvalidParameter naming the culprit."""
    with pytest.raises(InvalidParameter) as raised:
        protocol.create_contract("example", overrides)
    assert named in raised.value.message
    assert raised.value.field is not None
    assert isinstance(raised.value, protocol.ConfigurationError)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"name": ""}, "name"),
        ({"fee": -0.01}, "article.fee"),
        ({"fee": math.inf}, "article.fee"),
        ({"reward_threshold": False}, "article.reward_threshold"),
        ({"token_fund_for_evaluators": -2}, "article.token_fund_for_evaluators"),
        ({"evaluation_set": (0, 1, 1.0)}, "article.evaluation_set"),
        ({"evaluation_set": (None,)}, "article.evaluation_set"),
    ],
)
def test_bad_contribution_type_is_refused(
    article: ContributionType, changes: dict[str, Any], named: str
) -> None:
    """Building a type with a bad field raises InvalidParameter."""
    with pytest.raises(InvalidParameter) as raised:
        dataclasses.replace(article, **changes)
    assert named in raised.value.message


def test_types_must_be_well_formed(article: ContributionType) -> None:
    """No types at all, or a type filed under another name, is refused."""
    with pytest.raises(InvalidParameter, match="at least one"):
        ContractParameters(user_initial_tokens=1, user_initial_reputation=1, types={})
    with pytest.raises(InvalidParameter, match="'post'"):
        ContractParameters(
            user_initial_tokens=1, user_initial_reputation=1, types={"post": article}
        )


# -- parse_override ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        (" Yes ", True),
        ("on", True),
        ("FALSE", False),
        ("no", False),
        ("off", False),
        ("2", 2),
        ("-3", -3),
        ("0.25", 0.25),
        ("1e3", 1000.0),
    ],
)
def test_parse_override(text: str, expected: Any) -> None:
    """Settings-file values: booleans in several spellings, integers, floats."""
    parsed = parse_override(text)
    assert parsed == expected
    assert type(parsed) is type(expected)


@pytest.mark.parametrize("text", ["", "abc", "1,5", "0x10"])
def test_parse_override_refuses_other_text(text: str) -> None:
    """Anything else is an InvalidParameter that quotes the text."""
    with pytest.raises(InvalidParameter) as raised:
        parse_override(text)
    assert repr(text) in raised.value.message


def test_parsed_nan_is_refused_when_applied() -> None:
    """``nan`` parses as a float, but no parameter accepts it."""
    value = parse_override("nan")
    assert math.isnan(value)
    with pytest.raises(InvalidParameter, match="finite"):
        protocol.create_contract("example", {"beta": value})
