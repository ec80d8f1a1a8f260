"""Colander schemas of every request: strict types, unknown keys refused.

JSON and form-encoded bodies go through the same schemas, so each type accepts a JSON value
of the right kind, or its plain text form where the request could only send text (a query
parameter or a form field, marked as :class:`Text`), and nothing else: no ``1.7`` for an id,
no ``true`` for a number, no ``"1"`` string in JSON, no NaN or Infinity, no repeated form key
(a list).
"""

from __future__ import annotations

import math
import re

import colander

from protocol import MAX_BALANCE

from ..domain import passwords
from ..domain.events import EVENT_TYPES
from ..domain.leaderboard import METRICS
from ..domain.periods import DEFAULT_BUCKETS, MAX_BUCKETS, PERIOD_NAMES
from ..pipeline.idempotency import DRY_RUN_TRUE

MAX_ID = 2**63 - 1
INTEGER_TEXT = re.compile(r"[+-]?\d{1,20}")
NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# What no string of ours may hold: control characters (NUL among them, which PostgreSQL
# cannot store) and lone surrogates (from a JSON "\ud800" escape), which are not text.
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class Text(str):
    """A value sent as text: a query parameter or a form field.

    Numbers may be written as text only there; in a JSON body a number must be a JSON
    number, so the plain ``str`` of a JSON string is refused where a number is expected.
    """


class StrictInteger(colander.Int):
    """An integer: a JSON integer or its decimal text; never a bool, float or list."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if isinstance(cstruct, int) and not isinstance(cstruct, bool):
            return cstruct
        if isinstance(cstruct, Text) and INTEGER_TEXT.fullmatch(cstruct):
            return int(cstruct)
        raise colander.Invalid(node, "must be an integer")


class StrictNumber(colander.Float):
    """A finite number: a JSON number or its decimal text; never a bool, NaN or Infinity."""

    accepts_booleans = False

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if isinstance(cstruct, bool):
            if self.accepts_booleans:
                return float(cstruct)
            raise colander.Invalid(node, "must be a number, not a boolean")
        if isinstance(cstruct, Text) and self.accepts_booleans and cstruct in ("true", "false"):
            return 1.0 if cstruct == "true" else 0.0
        if isinstance(cstruct, int | float):
            number = cstruct
        elif isinstance(cstruct, Text) and NUMBER_TEXT.fullmatch(cstruct):
            number = float(cstruct)
        else:
            raise colander.Invalid(node, "must be a number")
        try:
            number = float(number)
        except OverflowError:
            raise colander.Invalid(node, "is too large") from None
        if not math.isfinite(number):
            raise colander.Invalid(node, "must be a finite number")
        return number


class VoteValue(StrictNumber):
    """An evaluation value: a number, where ``true`` is 1 and ``false`` is 0."""

    accepts_booleans = True


class StrictString(colander.String):
    """A string, given as a string (not a number or a list), of printable characters.

    An empty string is a value like any other, checked by the node's validator; colander
    would otherwise read it as a missing value and quietly put the default in its place.
    """

    def __init__(self) -> None:
        super().__init__(allow_empty=True)

    def deserialize(self, node, cstruct):
        if cstruct is None:
            return colander.null
        if cstruct is not colander.null and not isinstance(cstruct, str):
            raise colander.Invalid(node, "must be a string")
        if cstruct is not colander.null and UNPRINTABLE.search(cstruct):
            raise colander.Invalid(node, "must not contain control characters")
        return super().deserialize(node, cstruct)


ID_RANGE = colander.Range(0, MAX_ID, min_err="must be at least 0", max_err="is too large")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class KnownKeys(colander.Mapping):
    """A mapping that refuses unknown keys, with one error per key naming it.

    Never with its value, which colander's own message shows: a password sent under a
    wrong name would come back in the error.
    """

    def __init__(self) -> None:
        super().__init__(unknown="raise")

    def deserialize(self, node: colander.SchemaNode, cstruct):
        if isinstance(cstruct, dict):
            unknown = sorted(set(cstruct) - {child.name for child in node.children})
            if unknown:
                error = colander.Invalid(node)
                for key in unknown:
                    named = colander.SchemaNode(colander.String(), name=key)
                    error.add(colander.Invalid(named, "is not accepted here"))
                raise error
        return super().deserialize(node, cstruct)


class StrictMapping(colander.MappingSchema):
    """A mapping schema that refuses unknown keys."""

    @staticmethod
    def schema_type() -> colander.Mapping:
        return KnownKeys()


class NoQuery(StrictMapping):
    """No query parameter is accepted."""


class NoBody(StrictMapping):
    """No body field is accepted."""


class DryRun(StrictMapping):
    """``dry_run``: answer with what a creating POST would do, and write nothing."""

    dry_run = colander.SchemaNode(
        colander.Boolean(false_choices=("false", "0"), true_choices=DRY_RUN_TRUE),
        missing=False,
        description="answer 200 with the would-be object and its ledger entries, explained, "
        "and write nothing",
    )


def page_limit() -> colander.SchemaNode:
    """``limit``: 1 to 1000; more is an error, never a silent clamp."""
    return colander.SchemaNode(
        StrictInteger(),
        missing=DEFAULT_PAGE_SIZE,
        validator=colander.Range(1, MAX_PAGE_SIZE, max_err=f"may be at most {MAX_PAGE_SIZE}"),
        description=f"page size, {DEFAULT_PAGE_SIZE} by default, at most {MAX_PAGE_SIZE}",
    )


class Paging(StrictMapping):
    """``limit`` (1 to 1000; more is an error, never a silent clamp), ``start``, and the
    exclusive bounds on the item id ``since_id`` and ``max_id``."""

    limit = page_limit()
    start = colander.SchemaNode(
        StrictInteger(),
        missing=0,
        validator=ID_RANGE,
        description="how many items to skip",
    )
    since_id = colander.SchemaNode(
        StrictInteger(),
        validator=ID_RANGE,
        missing=colander.drop,
        description="only items whose id is greater (what is new since the item seen last)",
    )
    max_id = colander.SchemaNode(
        StrictInteger(),
        validator=ID_RANGE,
        missing=colander.drop,
        description="only items whose id is smaller",
    )


def optional_id(description: str) -> colander.SchemaNode:
    """An id filter or reference that may be left out."""
    return colander.SchemaNode(
        StrictInteger(), validator=ID_RANGE, missing=colander.drop, description=description
    )


def required_id(description: str) -> colander.SchemaNode:
    """An id the client must give."""
    return colander.SchemaNode(StrictInteger(), validator=ID_RANGE, description=description)


def order_by(choices: list[str], default: str) -> colander.SchemaNode:
    """``order_by``, one of ``choices``; a leading ``-`` means descending."""
    return colander.SchemaNode(
        StrictString(),
        missing=default,
        validator=colander.OneOf(choices),
        description=f"sort order, {default} by default; a leading - means descending",
    )


def balance(description: str) -> colander.SchemaNode:
    """An optional starting balance, from 0 to :data:`protocol.MAX_BALANCE`."""
    return colander.SchemaNode(
        StrictNumber(),
        validator=colander.Range(
            min=0,
            max=MAX_BALANCE,
            min_err="may not be negative",
            max_err=f"may be at most {MAX_BALANCE:.0e}",
        ),
        missing=colander.drop,
        description=description,
    )


# -- users ------------------------------------------------------------------------------------


USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$"


class FullMatch(colander.Regex):
    """A pattern the whole value must match (``colander.Regex`` accepts a matching prefix).

    The pattern is anchored with ``^`` and ``$`` so that the OpenAPI document, which shows
    it, says the same to clients.
    """

    def __call__(self, node: colander.SchemaNode, value: str) -> None:
        if self.match_object.fullmatch(value) is None:
            raise colander.Invalid(node, self.msg)


def username(description: str, missing=colander.required) -> colander.SchemaNode:
    """A username: letters, digits and ``. _ @ + -``, starting with a letter or digit."""
    return colander.SchemaNode(
        StrictString(),
        missing=missing,
        validator=FullMatch(
            USERNAME,
            "must be 1 to 100 letters, digits or . _ @ + -, starting with a letter or digit",
        ),
        description=description,
    )


def password(description: str, minimum: int, missing=colander.required) -> colander.SchemaNode:
    """A password of ``minimum`` to 1024 characters."""
    return colander.SchemaNode(
        StrictString(),
        missing=missing,
        validator=colander.Length(
            minimum,
            passwords.MAX_LENGTH,
            min_err="must be at least ${min} characters",
            max_err="may be at most ${max} characters",
        ),
        description=description,
    )


class UserBody(StrictMapping):
    reputation = balance("starting reputation; the contract's default when left out")
    tokens = balance("starting tokens; the contract's default when left out")
    referrer_id = optional_id("the user who brought this one in, of the same contract")
    username = username(
        "a name to log in with (POST /{contract}/auth), unique in the contract, "
        "case-sensitive; needs password",
        missing=colander.drop,
    )
    password = password(
        "the password to log in with, stored only as a hash; needs username; not containing "
        "the username, nor one of the passwords guessers try first",
        passwords.MIN_LENGTH,
        missing=colander.drop,
    )

    def validator(self, node: colander.SchemaNode, value: dict) -> None:
        """A username and a password come together or not at all, and the password is not
        one that is easy to guess (:func:`~..domain.passwords.password_problem`)."""
        given = [name for name in ("username", "password") if name in value]
        error = colander.Invalid(node)
        if len(given) == 1:
            other = "password" if given == ["username"] else "username"
            error[other] = f"is required with {given[0]}"
            raise error
        if given:
            problem = passwords.password_problem(value["password"], value["username"])
            if problem is not None:
                error["password"] = problem
                raise error


class UserQuery(Paging):
    order_by = order_by(
        ["reputation", "-reputation", "tokens", "-tokens", "time", "-time"], "time"
    )


class CreateUser(colander.MappingSchema):
    body = UserBody()
    querystring = DryRun()


class ListUsers(colander.MappingSchema):
    body = NoBody()
    querystring = UserQuery()


class ReadOne(colander.MappingSchema):
    body = NoBody()
    querystring = NoQuery()


class ListPage(colander.MappingSchema):
    body = NoBody()
    querystring = Paging()


# -- contributions ----------------------------------------------------------------------------


class ContributionBody(StrictMapping):
    contributor_id = required_id("the user who makes the contribution and pays its fee")
    type = colander.SchemaNode(
        StrictString(),
        missing=colander.drop,
        validator=colander.Length(1, 100),
        description="a contribution type of the contract; the first alphabetically by default",
    )


class ContributionQuery(Paging):
    contributor_id = optional_id("only this user's contributions")
    type = colander.SchemaNode(
        StrictString(),
        missing=colander.drop,
        validator=colander.Length(1, 100),
        description="only contributions of this type",
    )
    order_by = order_by(["score", "-score", "time", "-time"], "-score")


class CreateContribution(colander.MappingSchema):
    body = ContributionBody()
    querystring = DryRun()


class ListContributions(colander.MappingSchema):
    body = NoBody()
    querystring = ContributionQuery()


# -- evaluations ------------------------------------------------------------------------------


class EvaluationBody(StrictMapping):
    evaluator_id = required_id("the user who votes")
    contribution_id = required_id("the contribution voted on")
    value = colander.SchemaNode(
        VoteValue(), description="the vote, one of the contribution type's evaluation set"
    )


class EvaluationQuery(Paging):
    contribution_id = optional_id("only votes on this contribution")
    evaluator_id = optional_id("only votes by this user")
    value = colander.SchemaNode(
        VoteValue(), missing=colander.drop, description="only votes of this value"
    )
    include_superseded = colander.SchemaNode(
        colander.Boolean(false_choices=("false", "0"), true_choices=("true", "1")),
        missing=False,
        description="also list votes replaced by a later vote of the same user",
    )


class CreateEvaluation(colander.MappingSchema):
    body = EvaluationBody()
    querystring = DryRun()


MAX_BATCH = 100
"""The most evaluations one batch may hold."""


class StrictSequence(colander.Sequence):
    """A JSON array, and nothing else: no single object standing for a list of one."""

    def __init__(self) -> None:
        super().__init__(accept_scalar=False)

    def _validate(self, node, value, accept_scalar):
        if not isinstance(value, list):
            raise colander.Invalid(node, "must be a list")
        return super()._validate(node, value, accept_scalar)


class BatchItems(colander.SequenceSchema):
    schema_type = StrictSequence
    evaluation = EvaluationBody()
    validator = colander.Length(
        1,
        MAX_BATCH,
        min_err="must hold at least one evaluation",
        max_err=f"may hold at most {MAX_BATCH} evaluations",
    )


class BatchBody(StrictMapping):
    evaluations = BatchItems(
        description=f"1 to {MAX_BATCH} votes, each as for POST /{{contract}}/evaluations, "
        "applied in order, all or none"
    )


class CreateEvaluationBatch(colander.MappingSchema):
    body = BatchBody()
    querystring = NoQuery()


class ListEvaluations(colander.MappingSchema):
    body = NoBody()
    querystring = EvaluationQuery()


# -- logging in -------------------------------------------------------------------------------


class LoginBody(StrictMapping):
    username = username("the user's username in this contract")
    password = password("the user's password", 1)


class LogIn(colander.MappingSchema):
    body = LoginBody()
    querystring = NoQuery()


# -- events and webhooks ----------------------------------------------------------------------

MAX_WAIT_SECONDS = 30


class StrictBoolean(colander.Boolean):
    """A JSON ``true`` or ``false``, nothing else."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if not isinstance(cstruct, bool):
            raise colander.Invalid(node, "must be true or false")
        return cstruct


class EventTypes(colander.String):
    """A comma-separated list of event types, as a query parameter."""

    def deserialize(self, node, cstruct):
        text = StrictString().deserialize(node, cstruct)
        if text is colander.null:
            return colander.null
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = sorted(set(names) - set(EVENT_TYPES))
        if unknown or not names:
            raise colander.Invalid(
                node, f"must be event types separated by commas: {', '.join(EVENT_TYPES)}"
            )
        return tuple(dict.fromkeys(names))


class EventQuery(StrictMapping):
    after = colander.SchemaNode(
        StrictInteger(),
        missing=0,
        validator=ID_RANGE,
        description="only events with a greater id: the last id seen (0 by default)",
    )
    types = colander.SchemaNode(
        EventTypes(),
        missing=(),
        description="only events of these types, separated by commas",
    )
    limit = page_limit()
    wait = colander.SchemaNode(
        StrictInteger(),
        missing=0,
        validator=colander.Range(
            0, MAX_WAIT_SECONDS, min_err="may not be negative", max_err="may be at most 30"
        ),
        description="with no newer event, wait up to this many seconds for one (at most 30)",
    )


class ListEvents(colander.MappingSchema):
    body = NoBody()
    querystring = EventQuery()


def webhook_url(missing=colander.required) -> colander.SchemaNode:
    """The URL a webhook delivers to."""
    return colander.SchemaNode(
        StrictString(),
        missing=missing,
        validator=colander.Length(1, 2000),
        description="where to deliver: an https URL of a public address",
    )


class TypeList(colander.SequenceSchema):
    type = colander.SchemaNode(
        StrictString(), validator=colander.OneOf(list(EVENT_TYPES)), description="a type"
    )


def webhook_types(missing) -> colander.SchemaNode:
    """The event types a webhook receives."""
    return TypeList(
        StrictSequence(),
        missing=missing,
        validator=colander.Length(0, len(EVENT_TYPES) * 2),
        description="the event types to deliver; every type when empty or left out",
    )


def webhook_description() -> colander.SchemaNode:
    """A note on a webhook, for its owner."""
    return colander.SchemaNode(
        StrictString(),
        missing=colander.drop,
        validator=colander.Length(0, 500),
        description="a note for yourself, up to 500 characters",
    )


class WebhookBody(StrictMapping):
    url = webhook_url()
    types = webhook_types(missing=())
    description = webhook_description()


class CreateWebhook(colander.MappingSchema):
    body = WebhookBody()
    querystring = NoQuery()


class WebhookChanges(StrictMapping):
    url = webhook_url(missing=colander.drop)
    types = webhook_types(missing=colander.drop)
    description = webhook_description()
    enabled = colander.SchemaNode(
        StrictBoolean(),
        missing=colander.drop,
        description="false pauses deliveries; true resumes them, also after failing",
    )


class ChangeWebhook(colander.MappingSchema):
    body = WebhookChanges()
    querystring = NoQuery()


# -- statistics and leaderboards --------------------------------------------------------------


def period(default: str) -> colander.SchemaNode:
    """``period``: how far back from now a figure looks."""
    return colander.SchemaNode(
        StrictString(),
        missing=default,
        validator=colander.OneOf(list(PERIOD_NAMES)),
        description=f"the last day, week (7 days), month (30 days), year (365 days), or all "
        f"the contract's time; {default} by default",
    )


class StatsQuery(StrictMapping):
    period = period("day")
    buckets = colander.SchemaNode(
        StrictInteger(),
        missing=DEFAULT_BUCKETS,
        validator=colander.Range(1, MAX_BUCKETS, max_err=f"may be at most {MAX_BUCKETS}"),
        description=f"how many equal parts the pulse has, {DEFAULT_BUCKETS} by default",
    )


class ReadStats(colander.MappingSchema):
    body = NoBody()
    querystring = StatsQuery()


class LeaderboardQuery(Paging):
    metric = colander.SchemaNode(
        StrictString(),
        missing="reputation",
        validator=colander.OneOf(list(METRICS)),
        description="balances now (reputation, tokens) or gained over the period "
        "(reputation_gain, tokens_gain); reputation by default",
    )
    period = period("all")
    user_id = optional_id("also give this user's own rank and value")


class ReadLeaderboard(colander.MappingSchema):
    body = NoBody()
    querystring = LeaderboardQuery()


# -- contract parameters: created, changed, replayed -----------------------------------------

MAX_OVERRIDES = 100
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}(\.[A-Za-z_][A-Za-z0-9_]{0,99})?")


class Overrides(colander.Mapping):
    """Contract parameters by name (``beta``, ``article.fee``), each a JSON number or boolean
    as the settings' overrides are (``null`` in a ``PATCH``: back to the kind's default); at
    most 100. Which names and values the kind accepts is the engine's to say."""

    def __init__(self, nullable: bool) -> None:
        super().__init__(unknown="preserve")
        self.nullable = nullable

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if not isinstance(cstruct, dict):
            raise colander.Invalid(node, "must be an object of parameters")
        if len(cstruct) > MAX_OVERRIDES:
            raise colander.Invalid(node, f"may set at most {MAX_OVERRIDES} parameters")
        error = colander.Invalid(node)
        for key, value in cstruct.items():
            named = colander.SchemaNode(colander.String(), name=key)
            if not PARAMETER_NAME.fullmatch(key):
                error.add(colander.Invalid(named, "is not a parameter name"))
            elif (value is None and not self.nullable) or not isinstance(
                value, int | float | bool | None
            ):
                error.add(colander.Invalid(named, "must be a number or a boolean"))
            elif isinstance(value, float) and not math.isfinite(value):
                error.add(colander.Invalid(named, "must be a finite number"))
            elif isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
                error.add(colander.Invalid(named, "is too large"))
        if error.children:
            raise error
        return dict(cstruct)


def overrides(nullable: bool, missing, description: str) -> colander.SchemaNode:
    """The ``parameters`` of a contract to create, change or replay."""
    return colander.SchemaNode(
        Overrides(nullable),
        missing=missing,
        description=description
        + ("; `null` puts one back to the kind's default" if nullable else "")
        + f"; at most {MAX_OVERRIDES}",
    )


PARAMETERS = "parameters by name (`beta`, `article.fee`), each a number or a boolean"


class ContractBody(StrictMapping):
    kind = colander.SchemaNode(
        StrictString(),
        validator=colander.Length(1, 100),
        description="the contract kind, one of those installed",
    )
    parameters = overrides(nullable=False, missing={}, description=PARAMETERS)


class PutContract(colander.MappingSchema):
    body = ContractBody()
    querystring = NoQuery()


class ParameterChanges(StrictMapping):
    parameters = overrides(nullable=True, missing=colander.required, description=PARAMETERS)


class PatchContract(colander.MappingSchema):
    body = ParameterChanges()
    querystring = NoQuery()


class ListVersions(colander.MappingSchema):
    body = NoBody()
    querystring = Paging()


# -- replays ----------------------------------------------------------------------------------


class ReplayBody(StrictMapping):
    parameters = overrides(
        nullable=False,
        missing=colander.required,
        description="the contract parameters to change, by name, e.g. "
        '{"article.stake": 0.05, "alpha": 0.7}; {} replays under the rules as they are',
    )


class CreateReplay(colander.MappingSchema):
    body = ReplayBody()
    querystring = NoQuery()
