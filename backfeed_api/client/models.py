"""The documents of the API as typed dataclasses.

Each keeps the JSON it was read from in ``raw``: the service may add fields to its
documents, never remove them, and a client reads the new ones there before this module
names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


def moment(text: str) -> datetime:
    """An ISO 8601 time of the API (UTC, with a ``Z``) as an aware datetime."""
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class User:
    """A member of the contract with its balances."""

    id: int
    tokens: float
    reputation: float
    reputation_normalized: float
    total_reputation: float
    created_at: datetime
    referrer_id: int | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> User:
        """The user document ``data``."""
        referrer = data.get("referrer")
        return cls(
            id=data["id"],
            tokens=data["tokens"],
            reputation=data["reputation"],
            reputation_normalized=data["reputation_normalized"],
            total_reputation=data["total_reputation"],
            created_at=moment(data["created_at"]),
            referrer_id=None if referrer is None else referrer["id"],
            raw=data,
        )


@dataclass(frozen=True)
class Contribution:
    """Something a user made, with its contributor and its stats (``score``, ``quality``,
    ``engaged_reputation``, and the reputation behind each value in ``evaluations``)."""

    id: int
    type: str
    contributor: User
    stats: dict[str, Any]
    max_score: float
    token_fund: float
    created_at: datetime
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def score(self) -> float:
        """The contribution's score now."""
        return self.stats["score"]

    @classmethod
    def of(cls, data: dict) -> Contribution:
        """The contribution document ``data``."""
        return cls(
            id=data["id"],
            type=data["type"],
            contributor=User.of(data["contributor"]),
            stats=data["stats"],
            max_score=data["max_score"],
            token_fund=data["token_fund"],
            created_at=moment(data["created_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class Evaluation:
    """A vote, with its evaluator and its contribution as they stood when it was answered."""

    id: int
    value: float
    active: bool
    evaluator: User
    contribution: Contribution
    created_at: datetime
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Evaluation:
        """The evaluation document ``data``."""
        return cls(
            id=data["id"],
            value=data["value"],
            active=data["active"],
            evaluator=User.of(data["evaluator"]),
            contribution=Contribution.of(data["contribution"]),
            created_at=moment(data["created_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One change of a user's balances (``user_id`` None: a collective loss), with its cause
    (``cause_type``, ``cause_id``) and its explanation: the ``rule`` that made it, its
    ``inputs``, the ``formula`` of each delta and the contract's ``config_version``."""

    id: int
    user_id: int | None
    cause_type: str
    cause_id: int
    reputation_delta: float
    tokens_delta: float
    reputation: float
    tokens: float
    created_at: datetime
    rule: str
    inputs: dict[str, float]
    formula: dict[str, str]
    config_version: int | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> LedgerEntry:
        """The ledger entry document ``data``."""
        return cls(
            id=data["id"],
            user_id=data["user_id"],
            cause_type=data["cause"]["type"],
            cause_id=data["cause"]["id"],
            reputation_delta=data["reputation_delta"],
            tokens_delta=data["tokens_delta"],
            reputation=data["reputation"],
            tokens=data["tokens"],
            created_at=moment(data["created_at"]),
            rule=data["rule"],
            inputs=data["inputs"],
            formula=data["formula"],
            config_version=data["config_version"],
            raw=data,
        )


@dataclass(frozen=True)
class LoginToken:
    """A live login token of the user (never the token itself)."""

    id: int
    created_at: datetime
    expires_at: datetime
    current: bool
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> LoginToken:
        """The login token document ``data``."""
        return cls(
            id=data["id"],
            created_at=moment(data["created_at"]),
            expires_at=moment(data["expires_at"]),
            current=data["current"],
            raw=data,
        )


@dataclass(frozen=True)
class Login:
    """A login's answer: a new user token, shown this once, and until when it is valid."""

    token: str = field(repr=False)
    token_id: int
    user_id: int
    role: str
    contract: str
    expires_at: datetime
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Login:
        """The login document ``data``."""
        return cls(
            token=data["token"],
            token_id=data["token_id"],
            user_id=data["user_id"],
            role=data["role"],
            contract=data["contract"],
            expires_at=moment(data["expires_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class Contract:
    """The contract: its kind, parameters, contribution types and live totals."""

    name: str
    kind: str
    parameters: dict[str, Any]
    types: dict[str, dict[str, Any]]
    default_type: str
    totals: dict[str, float]
    created_at: datetime
    version: int = 1
    """The version of the contract's configuration in force."""
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Contract:
        """The contract document ``data``."""
        return cls(
            name=data["name"],
            kind=data["kind"],
            version=data.get("version", 1),
            parameters=data["parameters"],
            types=data["types"],
            default_type=data["default_type"],
            totals=data["totals"],
            created_at=moment(data["created_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class ContractVersion:
    """One version of a contract's configuration: its overrides of the kind's defaults, its
    full parameters, the action after which it applies, where it came from (``ini`` or
    ``http``, by ``token_id``) and when."""

    version: int
    overrides: dict[str, Any]
    parameters: dict[str, Any]
    after_action: int
    origin: str
    token_id: int | None
    created_at: datetime
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> ContractVersion:
        """The version document ``data``."""
        return cls(
            version=data["version"],
            overrides=data["overrides"],
            parameters=data["parameters"],
            after_action=data["after_action"],
            origin=data["origin"],
            token_id=data["token_id"],
            created_at=moment(data["created_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class Service:
    """The service: its version and the contracts it serves (``name``, ``kind``, ``url``)."""

    version: str
    contracts: list[dict[str, str]]
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Service:
        """The service document ``data``."""
        return cls(version=data["version"], contracts=data["contracts"], raw=data)


@dataclass(frozen=True)
class Event:
    """One committed action of the contract's event feed."""

    id: int
    type: str
    created_at: datetime
    data: dict[str, Any]
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Event:
        """The event document ``data``."""
        return cls(
            id=data["id"],
            type=data["type"],
            created_at=moment(data["created_at"]),
            data=data.get("data", {}),
            raw=data,
        )


@dataclass(frozen=True)
class Webhook:
    """A subscription to the contract's events; ``secret`` only in the answer that made it."""

    id: int
    url: str
    types: list[str]
    description: str
    enabled: bool
    failing: bool
    last_event_id: int
    created_at: datetime
    secret: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Webhook:
        """The webhook document ``data``."""
        return cls(
            id=data["id"],
            url=data["url"],
            types=list(data["types"]),
            description=data["description"],
            enabled=data["enabled"],
            failing=data["failing"],
            last_event_id=data["last_event_id"],
            created_at=moment(data["created_at"]),
            secret=data.get("secret"),
            raw=data,
        )


@dataclass(frozen=True)
class Replay:
    """A what-if replay job: where it stands and, once ``done``, its report (``result``,
    whose ``links`` point at its CSV and plot); ``error`` says why one ``failed``."""

    id: int
    url: str
    status: str
    progress: float
    parameters: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None = None
    """When an ended job will be deleted; None until it ends."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict | None = None
    error: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Whether the job has ended, done or failed."""
        return self.status in ("done", "failed")

    @classmethod
    def of(cls, data: dict) -> Replay:
        """The replay document ``data``."""
        return cls(
            id=data["id"],
            url=data["url"],
            status=data["status"],
            progress=data["progress"],
            parameters=dict(data["parameters"]),
            created_at=moment(data["created_at"]),
            expires_at=None if data["expires_at"] is None else moment(data["expires_at"]),
            started_at=None if data["started_at"] is None else moment(data["started_at"]),
            finished_at=None if data["finished_at"] is None else moment(data["finished_at"]),
            result=data["result"],
            error=data["error"],
            raw=data,
        )


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an event to a webhook: the answer's status or the error."""

    id: int
    event_id: int
    attempt: int
    status: int | None
    error: str | None
    delivered: bool
    duration_ms: float
    attempted_at: datetime
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Delivery:
        """The delivery document ``data``."""
        return cls(
            id=data["id"],
            event_id=data["event_id"],
            attempt=data["attempt"],
            status=data["status"],
            error=data["error"],
            delivered=data["delivered"],
            duration_ms=data["duration_ms"],
            attempted_at=moment(data["attempted_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class Stats:
    """The community's figures over a period: the pulse, the most active users, how
    reputation is spread, the agreement rate and what was issued (see the API reference)."""

    period_from: datetime
    period_to: datetime
    pulse: list[dict[str, Any]]
    most_active: list[dict[str, Any]]
    reputation: dict[str, Any]
    agreement_rate: float | None
    issued: dict[str, Any]
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, data: dict) -> Stats:
        """The statistics document ``data``."""
        return cls(
            period_from=moment(data["period"]["from"]),
            period_to=moment(data["period"]["to"]),
            pulse=data["pulse"],
            most_active=data["most_active"],
            reputation=data["reputation"],
            agreement_rate=data["agreement_rate"],
            issued=data["issued"],
            raw=data,
        )


@dataclass(frozen=True)
class Rank:
    """A place on a leaderboard: equal values share a rank."""

    rank: int
    value: float
    user: User | None = None

    @classmethod
    def of(cls, data: dict) -> Rank:
        """The leaderboard item (or ``me``) document ``data``."""
        user = data.get("user")
        return cls(
            rank=data["rank"], value=data["value"], user=None if user is None else User.of(user)
        )


@dataclass(frozen=True)
class Leaderboard:
    """One page of a leaderboard, and the asked-for user's own place in ``me``."""

    metric: str
    period: str
    page: Page[Rank]
    me: Rank | None = None

    @classmethod
    def of(cls, data: dict) -> Leaderboard:
        """The leaderboard document ``data``."""
        me = data.get("me")
        return cls(
            metric=data["metric"],
            period=data["period"],
            page=Page.of(data, Rank.of),
            me=None if me is None else Rank.of(me),
        )


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of a list: its items, how many the list holds in all, and the URLs of the
    next and the previous page (None at either end)."""

    items: list[Item]
    total: int
    limit: int
    start: int
    next: str | None = None
    prev: str | None = None

    @classmethod
    def of(cls, data: dict, item: Callable[[dict], Item]) -> Page[Item]:
        """The collection document ``data``, each item read by ``item``."""
        meta = data["_meta"]
        return cls(
            items=[item(entry) for entry in data["items"]],
            total=meta["total"],
            limit=meta["limit"],
            start=meta["start"],
            next=meta.get("next"),
            prev=meta.get("prev"),
        )
