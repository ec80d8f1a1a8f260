"""The settings of the ini file, each declared once: its name, parser, default and doc.

Every setting the service reads is an :class:`Option` (or, for settings named by a pattern,
a :class:`Family`) of :data:`DECLARED`, and is read only through it: ``OPTION.read(settings)``
gives the typed value or stops the service with a message naming the setting. Start-up
(:func:`includeme`) reads them all first, so that a wrong value anywhere stops the service
before it serves anything, and refuses a ``backfeed.*`` setting that nothing declares (a
misspelt name would otherwise be silently ignored). The settings reference of the
deployment docs is generated from these declarations (``docs/_ext/settings_reference.py``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

from protocol import ConfigurationError, ContractRules, create_contract, installed_kinds
from protocol.parameters import parse_override

if TYPE_CHECKING:
    from limits import RateLimitItem
    from pyramid.config import Configurator

T = TypeVar("T")

DATABASE_URL_VARIABLE = "BACKFEED_DATABASE_URL"
CONTRACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# waitress's own max_request_body_size in development.ini and in ``backfeed serve``: well
# above the application's limit, so that waitress's plain-text 413 only meets bodies far
# beyond what the application would refuse in JSON. (gunicorn sets no such limit.)
SERVER_MAX_BODY_BYTES = 1024 * 1024
WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
# An origin as browsers send it: scheme, host and an optional port, nothing else.
ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")
# The path of a public URL: segments of the characters RFC 3986 allows unescaped, or escapes.
URL_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*")
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
RATE_LIMIT_STORES = ("memory", "redis", "rediss", "redis+unix")
KEY_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,100}")

LARGEST_SETTING = 10**9
"""The largest count or number of seconds a setting may give: beyond it a login window
reaches back before the year 1 (OverflowError at every login)."""
LARGEST_TOKEN_DAYS = 36500
"""The longest a login token may live: a hundred years, so its expiry is a valid date."""
LARGEST_IDEMPOTENCY_HOURS = 24 * 36500
"""The longest an idempotency key may be kept: a hundred years, so that the oldest moment
a key is kept from is a valid date."""
LARGEST_RETRY_ATTEMPTS = 100
"""The most times a request may be tried: each attempt runs its whole transaction again."""


class Refused(ValueError):
    """What a setting's value must be, said by a parser when the value is not that."""


@dataclass(frozen=True)
class Option(Generic[T]):
    """One setting of the ini file, declared once.

    ``parser`` turns the setting's text (or ``default`` when it is left out) into the value
    the service uses, raising :class:`Refused` with what the value must be; ``doc`` is its
    row of the settings reference, in reStructuredText.
    """

    name: str
    parser: Callable[[Any], T]
    default: Any
    doc: str
    shown_default: str = ""
    """How the docs show the default, when the literal ``default`` would not say it."""

    def __post_init__(self) -> None:
        if not self.doc.strip():
            raise ValueError(f"the setting {self.name} is declared without a doc")

    def read(self, settings: Mapping[str, Any]) -> T:
        """The value of this setting in ``settings``; a ConfigurationError naming the
        setting when it cannot be used."""
        raw = settings.get(self.name, self.default)
        try:
            return self.parser(raw)
        except Refused as refusal:
            raise ConfigurationError(f"{self.name} {refusal}, not {raw!r}", self.name) from None

    @property
    def default_text(self) -> str:
        """The default as the settings reference shows it."""
        if self.shown_default:
            return self.shown_default
        if isinstance(self.default, bool):
            return f"``{str(self.default).lower()}``"
        return f"``{self.default}``" if self.default not in (None, "") else "none"


@dataclass(frozen=True)
class Family:
    """Settings named by a pattern, such as ``backfeed.contract.<name>.<parameter>``: each
    is read by the code that handles its ``prefix``; declared for the docs, and so that
    start-up knows them."""

    name: str
    prefix: str
    doc: str
    shown_default: str

    def __post_init__(self) -> None:
        if not self.doc.strip():
            raise ValueError(f"the settings {self.name} are declared without a doc")

    @property
    def default_text(self) -> str:
        """The default as the settings reference shows it."""
        return self.shown_default


DECLARED: dict[str, Option | Family] = {}
"""Every declared setting by name, in the order of the settings reference."""


def declare(setting: Option[T] | Family) -> Any:
    """Add ``setting`` to :data:`DECLARED` (once: a name declared twice is a mistake)."""
    if setting.name in DECLARED:
        raise ValueError(f"the setting {setting.name} is declared twice")
    DECLARED[setting.name] = setting
    return setting


# The parsers: each takes the text of a setting (or its default) and returns its value.


def text(raw: Any) -> str:
    """Any text, spaces around it removed; an empty or missing value is ``""``."""
    return str(raw if raw is not None else "").strip()


def flag(raw: Any) -> bool:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0``."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise Refused("must be true or false")
    return word in TRUE_WORDS


def positive(kind: type, largest: float) -> Callable[[Any], Any]:
    """A parser of numbers of ``kind`` above zero and up to ``largest`` (not NaN or infinity)."""

    def parse(raw: Any) -> Any:
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            value = math.nan
        if not 0 < value <= largest:  # also refuses NaN and infinity
            raise Refused(f"must be a positive number up to {largest:,}")
        return value

    return parse


def whole(least: int, unit: str) -> Callable[[Any], int]:
    """A parser of whole numbers of ``unit``, written in digits, at least ``least``."""

    def parse(raw: Any) -> int:
        digits = text(raw)
        if not WHOLE_NUMBER.fullmatch(digits) or int(digits) < least:
            raise Refused(f"must be a whole number of {unit}, at least {least}")
        return int(digits)

    return parse


def rate(raw: Any) -> RateLimitItem:
    """One rate, ``20/minute`` or ``600 per 10 minutes``, within :data:`LARGEST_SETTING`."""
    from limits import parse_many  # imported here: ``limits`` is slow to import

    try:
        items = parse_many(text(raw))
    except ValueError:
        items = []
    if len(items) != 1:
        raise Refused("must be one rate like '20/minute' or '600 per 10 minutes'")
    (item,) = items
    if not 1 <= item.amount <= LARGEST_SETTING or item.get_expiry() > LARGEST_SETTING:
        raise Refused(
            f"must allow 1 to {LARGEST_SETTING:,} requests in a window of at most "
            f"{LARGEST_SETTING:,} seconds"
        )
    return item


def contract_entries(raw: Any) -> tuple[tuple[str, str], ...]:
    """``name`` or ``name:kind`` entries, separated by spaces: (name, kind) pairs."""
    entries = []
    for entry in text(raw).split():
        name, _, kind = entry.partition(":")
        if not CONTRACT_NAME.fullmatch(name):
            raise Refused(
                f"must list contract names of letters, digits, '-' or '_', up to 100 "
                f"(as {name!r} is not)"
            )
        if name in (known for known, _ in entries):
            raise Refused(f"must name each contract once ({name!r} is listed twice)")
        entries.append((name, kind or name))
    return tuple(entries)


def origins(raw: Any) -> frozenset[str]:
    """Browser origins separated by spaces or new lines."""
    listed = text(raw).split()
    for origin in listed:
        if not ORIGIN.fullmatch(origin):
            raise Refused(
                f"must be origins like https://app.example.org, lower case scheme and host, "
                f"an optional port, no path, no wildcard ({origin!r} is not one)"
            )
    return frozenset(listed)


def base_url(raw: Any) -> str | None:
    """An ``http`` or ``https`` URL with a host and an optional port and path, without its
    trailing slash; None when empty."""
    given = text(raw)
    if not given:
        return None
    problem = Refused("must be a URL like https://api.example.org")
    parts = urlsplit(given)
    try:
        port = parts.port
    except ValueError:
        raise problem from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or "?" in given
        or "#" in given
        or not URL_PATH.fullmatch(parts.path)
    ):
        raise problem
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def storage_url(raw: Any) -> str:
    """``memory://`` or a Redis URL."""
    url = text(raw)
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in RATE_LIMIT_STORES:
        raise Refused("must be memory:// or a Redis URL like redis://127.0.0.1:6379/0")
    return url


def key_prefix(raw: Any) -> str:
    """1 to 100 letters, digits or ``_ . : -``."""
    prefix = text(raw)
    if not KEY_PREFIX.fullmatch(prefix):
        raise Refused("must be 1 to 100 letters, digits or _ . : -")
    return prefix


def hours(raw: Any) -> timedelta:
    """A positive number of hours, up to :data:`LARGEST_IDEMPOTENCY_HOURS`, as a duration."""
    return timedelta(hours=positive(float, LARGEST_IDEMPOTENCY_HOURS)(raw))


# The declarations, in the order of the settings reference.

SQLALCHEMY_URL: Option[str] = declare(
    Option(
        "sqlalchemy.url",
        text,
        "",
        "The database URL, e.g. ``postgresql+psycopg://user@host/dbname``, or "
        "``sqlite:///path/to/file.sqlite`` for development. Required unless the environment "
        f"variable ``{DATABASE_URL_VARIABLE}`` is set, which takes precedence over it.",
    )
)
declare(
    Family(
        "sqlalchemy.*",
        "sqlalchemy.",
        "Any other option of SQLAlchemy's ``create_engine``; ``production.ini`` sets "
        "``pool_size``, ``max_overflow`` and ``pool_pre_ping``.",
        "SQLAlchemy's defaults",
    )
)
CONTRACTS: Option[tuple[tuple[str, str], ...]] = declare(
    Option(
        "backfeed.contracts",
        contract_entries,
        "",
        "The contracts served, separated by spaces or new lines. Each entry is ``name`` (a "
        "contract of the kind with that name) or ``name:kind``, so one kind can be served "
        "several times with different parameters. Names are letters, digits, ``-`` and "
        "``_``, up to 100 characters, and must be unique.",
        "every installed kind, under its own name",
    )
)
CONTRACT_OVERRIDES: Family = declare(
    Family(
        "backfeed.contract.<name>.<parameter>",
        "backfeed.contract.",
        "Changes one parameter of the contract ``<name>``: a contract-wide parameter "
        "(``backfeed.contract.mag2.beta = 0.4``) or a parameter of one contribution type "
        "(``backfeed.contract.mag2.article.fee = 2``). The value is a number, ``true`` or "
        "``false``. Unknown parameters and overrides of contracts that are not served stop "
        "the service at start-up.",
        "the kind's default",
    )
)
CREATE_SCHEMA: Option[bool] = declare(
    Option(
        "backfeed.create_schema",
        flag,
        False,
        "When true, the service applies the database migrations itself at start-up, as "
        "``backfeed initdb`` does. ``development.ini`` turns it on; in production leave it "
        "off and run ``initdb``.",
    )
)
DEMO: Option[bool] = declare(
    Option(
        "backfeed.demo",
        flag,
        False,
        "When true, every served contract that has no user yet is seeded at start-up with a "
        "demo community (``backfeed demo``): 15 users who can log in, their contributions "
        "and votes. The usernames and passwords are written once to the log. "
        "``development.ini`` turns it on; never in production.",
    )
)
PUBLIC_URL: Option[str | None] = declare(
    Option(
        "backfeed.public_url",
        base_url,
        "",
        "The address clients use, ``http`` or ``https`` with a host, an optional port and an "
        "optional path (``https://api.example.org``). When set, it is the only base of every "
        "absolute URL the service answers with, whatever ``Host`` a request carries. Set it "
        "in production; see :ref:`reverse-proxy`.",
        "none (each request's own address)",
    )
)
IDEMPOTENCY_RETENTION: Option[timedelta] = declare(
    Option(
        "backfeed.idempotency_hours",
        hours,
        24,
        "How long an ``Idempotency-Key`` is remembered, in hours (a fraction is allowed, at "
        f"most {LARGEST_IDEMPOTENCY_HOURS}): a retry within that time is answered as the "
        "first request was.",
    )
)
MAX_BODY_BYTES: Option[int] = declare(
    Option(
        "backfeed.max_body_bytes",
        whole(1, "bytes"),
        DEFAULT_MAX_BODY_BYTES,
        "The largest request body accepted, in bytes. A larger one is refused with ``413`` "
        "before it is read. Under waitress (``development.ini``), keep its "
        "``max_request_body_size`` (1 MiB there) well above it.",
    )
)
CORS_ORIGINS: Option[frozenset[str]] = declare(
    Option(
        "backfeed.cors_origins",
        origins,
        "",
        "The origins of browser applications allowed to call the API, separated by spaces "
        "or new lines, each a scheme, host and optional port as browsers send it "
        "(``https://app.example.org``, ``http://localhost:3000``). No wildcard. Left empty, "
        "no response carries a CORS header. See :ref:`cors`.",
        "none (CORS off)",
    )
)
CORS_MAX_AGE: Option[int] = declare(
    Option(
        "backfeed.cors_max_age",
        whole(0, "seconds"),
        600,
        "How long, in seconds, browsers may keep the answer to a CORS preflight.",
    )
)
RETRY_ATTEMPTS: Option[int] = declare(
    Option(
        "retry.attempts",
        positive(int, LARGEST_RETRY_ATTEMPTS),
        3,
        "How many times a request is tried when the database reports a deadlock or a "
        "serialization failure, or drops the connection before the commit (pyramid_retry; "
        f"see :ref:`database-faults`), at most {LARGEST_RETRY_ATTEMPTS}.",
    )
)
PUBLIC_READS: Option[bool] = declare(
    Option(
        "backfeed.public_reads",
        flag,
        True,
        "Whether the ``GET`` routes of a contract answer without a bearer token. When false, "
        "they need a token of that contract, of any role (``GET /`` and ``GET /__api__`` "
        "stay public). Writes always need a token.",
    )
)
DEV_ADMIN_TOKEN: Option[str] = declare(
    Option(
        "backfeed.dev_admin_token",
        text,
        "",
        "A token that is admin of every contract, for development: ``development.ini`` sets "
        "``dev-admin-token`` so that the quick start works. Leave it out in production, "
        "where tokens come from ``backfeed token create``; the service logs a warning at "
        "start-up when it is set.",
    )
)


def _count(name: str, default: int, doc: str) -> Option[int]:
    return declare(Option(name, positive(int, LARGEST_SETTING), default, doc))


LOGIN_MAX_FAILURES = _count(
    "backfeed.login_max_failures",
    5,
    "Failed logins for one username of a contract from one client address, within the "
    "window, after which ``POST /{contract}/auth`` answers ``429`` with ``Retry-After`` for "
    "that username from that address. The owner logging in from another address is not "
    "held up.",
)
LOGIN_MAX_FAILURES_PER_USERNAME = _count(
    "backfeed.login_max_failures_per_username",
    100,
    "Failed logins for one username of a contract from any address, within the window, "
    "after which every attempt for that username is answered ``429``: the limit on guessing "
    "spread over many addresses. Keep it well above ``backfeed.login_max_failures``.",
)
LOGIN_MAX_FAILURES_PER_ADDRESS = _count(
    "backfeed.login_max_failures_per_address",
    20,
    "Failed logins from one client address, for any username of any contract, after which "
    "every attempt from that address is answered ``429``.",
)
LOGIN_WINDOW_SECONDS: Option[float] = declare(
    Option(
        "backfeed.login_window_seconds",
        positive(float, LARGEST_SETTING),
        900,
        "The window, in seconds, over which failed logins are counted; older failures are "
        "forgotten (and pruned).",
    )
)
RATE_LIMITS: Option[bool] = declare(
    Option(
        "backfeed.rate_limits",
        flag,
        True,
        "Whether requests are counted against the rate limits below, per client (its token, "
        "else its address), and answered ``429`` with ``Retry-After`` beyond them. See "
        ":ref:`rate-limits`.",
    )
)
RATE_LIMIT_LOGINS: Option[RateLimitItem] = declare(
    Option(
        "backfeed.rate_limit_logins",
        rate,
        "20/minute",
        "Logins (``POST /{contract}/auth``) per client address and window: a count, ``/`` or "
        "``per``, and a window of an optional number of ``second``, ``minute``, ``hour`` or "
        "``day`` units (``20/minute``, ``100 per 10 minutes``).",
    )
)
RATE_LIMIT_WRITES: Option[RateLimitItem] = declare(
    Option(
        "backfeed.rate_limit_writes",
        rate,
        "300/minute",
        "The other writes (``POST``, ``DELETE``) per client and window, written alike.",
    )
)
RATE_LIMIT_READS: Option[RateLimitItem] = declare(
    Option(
        "backfeed.rate_limit_reads",
        rate,
        "600/minute",
        "Reads (``GET``, ``HEAD``, ``OPTIONS``) per client and window, written alike.",
    )
)
RATE_LIMIT_STORAGE_URL: Option[str] = declare(
    Option(
        "backfeed.rate_limit_storage_url",
        storage_url,
        "memory://",
        "Where the counts are kept: ``memory://``, in each process alone (one process only), "
        "or a Redis URL shared by every process (``redis://host:port/db``, ``rediss://`` for "
        "TLS, ``redis+unix:///path/to/socket``), as ``production.ini`` sets "
        "``redis://127.0.0.1:6379/0``. When Redis fails, requests are served without "
        "limits, with warnings in the log.",
    )
)
RATE_LIMIT_KEY_PREFIX: Option[str] = declare(
    Option(
        "backfeed.rate_limit_key_prefix",
        key_prefix,
        "backfeed",
        "The start of every key in Redis: give each deployment sharing a Redis server its own.",
    )
)
LOGIN_TOKEN_DAYS: Option[float] = declare(
    Option(
        "backfeed.login_token_days",
        positive(float, LARGEST_TOKEN_DAYS),
        30,
        "How long the token of a login is valid, in days (a fraction is allowed, at most "
        f"{LARGEST_TOKEN_DAYS}). Its ``expires_at`` is shown at login; after it the token is "
        "a ``401``. Tokens from ``backfeed token create`` do not expire.",
    )
)
LOGIN_MAX_TOKENS = _count(
    "backfeed.login_max_tokens",
    10,
    "How many live (neither revoked nor expired) login tokens a user may hold; a login "
    "beyond that revokes the user's oldest.",
)
EVENTS_MAX_WAITERS = declare(
    Option(
        "backfeed.events.max_waiters",
        positive(int, 10_000),
        4,
        "How many ``GET /{contract}/events?wait=`` requests one server process lets wait at "
        "once; beyond them the answer is a ``503`` with ``Retry-After``. Each waiting "
        "request holds one of the server's threads (but no database connection): keep it "
        "below them.",
    )
)
EVENTS_MAX_WAITERS_PER_CLIENT = declare(
    Option(
        "backfeed.events.max_waiters_per_client",
        positive(int, 10_000),
        1,
        "How many of those waiting requests one client may hold at once: its token, or "
        "without a valid token its address (an IPv6 address by its /64), as the rate limits "
        "count clients. Beyond them its answer is a ``429`` with ``Retry-After``, so that one "
        "client cannot take every permit and deny the others.",
    )
)
WEBHOOKS_SIGNING_KEY: Option[str] = declare(
    Option(
        "backfeed.webhooks.signing_key",
        text,
        "",
        "The secret the webhooks' signing secrets are derived from (any long random text, "
        "e.g. ``openssl rand -hex 32``), the same for the servers and the workers. The "
        "database keeps only a salt per webhook, so that it alone cannot sign a delivery. "
        "Changing the key changes every webhook's secret. Set it in production; without it "
        "the salt alone makes the secret.",
    )
)
WEBHOOKS_TIMEOUT: Option[float] = declare(
    Option(
        "backfeed.webhooks.timeout_seconds",
        positive(float, 60),
        10,
        "How long one delivery attempt may take, in seconds (at most 60), from the start of "
        "the connection to the answer's status line and headers, however the receiver "
        "spaces its bytes; an answer that is not a ``2xx`` in time is a failed attempt.",
    )
)
WEBHOOKS_ALLOW_PRIVATE: Option[bool] = declare(
    Option(
        "backfeed.webhooks.allow_private_targets",
        flag,
        False,
        "Lets webhooks point anywhere, over ``http`` too: private, loopback and link-local "
        "addresses included. For development and tests only.",
    )
)
WORKER_IN_PROCESS: Option[bool] = declare(
    Option(
        "backfeed.worker.in_process",
        flag,
        False,
        "Whether the web process runs the worker's jobs itself (webhook deliveries, replay "
        "jobs), on threads of its own, so that no ``backfeed worker`` is needed. Meant for a "
        "single development server.",
        "``false`` (``true`` in ``development.ini``)",
    )
)
WORKER_THREADS: Option[int] = declare(
    Option(
        "backfeed.worker.threads",
        positive(int, 64),
        8,
        "How many deliveries a ``backfeed worker`` process makes at once (at most 64): each "
        "thread delivers to one webhook at a time, so more threads serve more webhooks.",
    )
)
WORKER_REPLAY_THREADS: Option[int] = declare(
    Option(
        "backfeed.worker.replay_threads",
        positive(int, 64),
        1,
        "How many replay jobs a ``backfeed worker`` process runs at once (at most 64), on "
        "threads of their own: the deliveries keep their ``backfeed.worker.threads`` "
        "however long the replays take. Several workers run several replays at once.",
    )
)

REPLAYS_KEEP_HOURS: Option[float] = declare(
    Option(
        "backfeed.replays.keep_hours",
        positive(float, 24 * 366),
        24,
        "How long a replay job (``POST /{contract}/replays``) is kept, in hours from when it "
        "ended (done or failed): after it ``GET`` of the job and of its CSV and plot is a "
        "``404``, and the worker deletes it. A job waiting or running never expires.",
    )
)
REPLAYS_MAX_QUEUED = declare(
    Option(
        "backfeed.replays.max_queued",
        positive(int, 1000),
        5,
        "How many replay jobs of one contract may be waiting or running at once (at most "
        "1,000); one more is refused with ``409`` ``replay_queue_full`` until one ends. The "
        "worker runs one replay of a contract at a time.",
    )
)
REPLAYS_MAX_KEPT = declare(
    Option(
        "backfeed.replays.max_kept",
        positive(int, 10_000),
        50,
        "How many ended (done or failed) replay jobs of one contract are kept, with their "
        "outputs (at most 10,000): a job that ends beyond them deletes the oldest, so that "
        "asking again and again cannot fill the database before they expire.",
    )
)
REPLAYS_LEASE_SECONDS: Option[float] = declare(
    Option(
        "backfeed.replays.lease_seconds",
        positive(float, 3600),
        60,
        "How long a worker holds a replay job without a sign of progress, in seconds (at "
        "most 3,600): it renews the hold as the replay goes on, and a job whose worker died "
        "is taken up by another once it runs out.",
    )
)

REPLAYS_MAX_RUN_SECONDS: Option[float] = declare(
    Option(
        "backfeed.replays.max_run_seconds",
        positive(float, 7 * 24 * 3600),
        3600,
        "How long a worker may run one replay job, in seconds from when it took the job up "
        "(at most a week): past it the job is failed, saying so, and the contract's next "
        "job runs, so that a replay that hangs while its worker lives blocks no queue. "
        "``make bench-replay`` measures how long a replay of a million actions takes.",
    )
)


# Settings read together.


def database_url(settings: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The database URL: ``BACKFEED_DATABASE_URL`` if set, else ``sqlalchemy.url``."""
    url = text(environ.get(DATABASE_URL_VARIABLE)) or SQLALCHEMY_URL.read(settings)
    if not url:
        raise ConfigurationError(
            f"no database configured: set {DATABASE_URL_VARIABLE} or sqlalchemy.url"
        )
    return url


@dataclass(frozen=True)
class ContractSpec:
    """One contract to serve: its public name, its kind and its parameter overrides."""

    name: str
    kind: str
    overrides: Mapping[str, Any]

    def build(self) -> ContractRules:
        """The engine contract for this spec; raises ConfigurationError when invalid."""
        try:
            return create_contract(self.kind, self.overrides, name=self.name)
        except ConfigurationError as error:
            raise ConfigurationError(f"contract {self.name!r}: {error.message}") from error


def _override(key: str, value: Any) -> Any:
    """The value of the override setting ``key``; a value that is neither a number nor a
    boolean stops the service with the setting named."""
    try:
        return parse_override(str(value))
    except ConfigurationError as error:
        raise ConfigurationError(f"{key}: {error.message}", key) from error


def contract_specs(settings: Mapping[str, Any]) -> list[ContractSpec]:
    """The contracts of ``backfeed.contracts`` (every installed kind under its own name
    when it is left out), with their ``backfeed.contract.<name>.<parameter>`` overrides."""
    entries = CONTRACTS.read(settings) or tuple((kind, kind) for kind in installed_kinds())
    specs = []
    for name, kind in entries:
        prefix = f"{CONTRACT_OVERRIDES.prefix}{name}."
        overrides = {
            key[len(prefix) :]: _override(key, value)
            for key, value in settings.items()
            if key.startswith(prefix)
        }
        specs.append(ContractSpec(name=name, kind=kind, overrides=overrides))
    unknown = {
        key.split(".")[2]
        for key in settings
        if key.startswith(CONTRACT_OVERRIDES.prefix) and key.count(".") >= 3
    } - {name for name, _ in entries}
    if unknown:
        raise ConfigurationError(
            "overrides given for contracts that are not served: " + ", ".join(sorted(unknown))
        )
    return specs


@dataclass(frozen=True)
class LoginLimits:
    """How many refused logins are tolerated within ``window_seconds`` before the next
    attempt is answered 429, and how long and how many login tokens a user keeps.

    ``per_username_address`` is the strict limit, on the refusals of one username of a
    contract from one client address: a guesser at one address waits, the owner elsewhere
    does not. ``per_username`` (over every address) is much higher and stops guessing spread
    over many addresses; ``per_address`` (over every username and contract) stops one address
    trying many usernames.
    """

    per_username_address: int
    per_username: int
    per_address: int
    window_seconds: float
    token_days: float
    """How long a login token is valid."""
    tokens_per_user: int
    """How many unexpired, unrevoked login tokens a user may hold; a new login past that
    revokes the oldest."""


def login_limits(settings: Mapping[str, Any]) -> LoginLimits:
    """The ``backfeed.login_*`` settings."""
    return LoginLimits(
        per_username_address=LOGIN_MAX_FAILURES.read(settings),
        per_username=LOGIN_MAX_FAILURES_PER_USERNAME.read(settings),
        per_address=LOGIN_MAX_FAILURES_PER_ADDRESS.read(settings),
        window_seconds=LOGIN_WINDOW_SECONDS.read(settings),
        token_days=LOGIN_TOKEN_DAYS.read(settings),
        tokens_per_user=LOGIN_MAX_TOKENS.read(settings),
    )


@dataclass(frozen=True)
class RateLimits:
    """How many requests one client may make per window, and where the counts are kept.

    A client is the token it presents or, without a valid token (and for every login), its
    address; see :mod:`backfeed_api.pipeline.ratelimits`.
    """

    enabled: bool
    storage_url: str
    key_prefix: str
    logins: RateLimitItem
    writes: RateLimitItem
    reads: RateLimitItem


def rate_limits(settings: Mapping[str, Any]) -> RateLimits:
    """The ``backfeed.rate_limit*`` settings."""
    return RateLimits(
        enabled=RATE_LIMITS.read(settings),
        storage_url=RATE_LIMIT_STORAGE_URL.read(settings),
        key_prefix=RATE_LIMIT_KEY_PREFIX.read(settings),
        logins=RATE_LIMIT_LOGINS.read(settings),
        writes=RATE_LIMIT_WRITES.read(settings),
        reads=RATE_LIMIT_READS.read(settings),
    )


@dataclass(frozen=True)
class EventSettings:
    """The events feed, webhook deliveries and the worker that makes them."""

    max_waiters: int
    """How many feed requests of one process may wait for an event at once."""
    max_waiters_per_client: int
    """How many of them one client (token or address) may hold."""
    allow_private_targets: bool
    """Whether webhooks may point anywhere, over http too (development, tests)."""
    signing_key: bytes
    """What the subscriptions' signing secrets are derived from (empty: not set)."""
    timeout_seconds: float
    """How long one delivery attempt may take, connection, request and answer."""
    worker_in_process: bool
    """Whether the web process itself delivers, on a thread of its own (development)."""
    worker_threads: int
    """How many deliveries one worker process makes at once."""
    worker_replay_threads: int
    """How many replay jobs one worker process runs at once, on threads of their own."""


def event_settings(settings: Mapping[str, Any]) -> EventSettings:
    """The settings of events, webhooks and the worker."""
    return EventSettings(
        max_waiters=EVENTS_MAX_WAITERS.read(settings),
        max_waiters_per_client=EVENTS_MAX_WAITERS_PER_CLIENT.read(settings),
        allow_private_targets=WEBHOOKS_ALLOW_PRIVATE.read(settings),
        signing_key=WEBHOOKS_SIGNING_KEY.read(settings).encode(),
        timeout_seconds=WEBHOOKS_TIMEOUT.read(settings),
        worker_in_process=WORKER_IN_PROCESS.read(settings),
        worker_threads=WORKER_THREADS.read(settings),
        worker_replay_threads=WORKER_REPLAY_THREADS.read(settings),
    )


@dataclass(frozen=True)
class ReplaySettings:
    """How the replay jobs of the HTTP API are kept, bounded and held by the workers."""

    keep_hours: float
    max_queued: int
    max_kept: int
    lease_seconds: float
    max_run_seconds: float


def replay_settings(settings: Mapping[str, Any]) -> ReplaySettings:
    """The ``backfeed.replays.*`` settings."""
    return ReplaySettings(
        keep_hours=REPLAYS_KEEP_HOURS.read(settings),
        max_queued=REPLAYS_MAX_QUEUED.read(settings),
        max_kept=REPLAYS_MAX_KEPT.read(settings),
        lease_seconds=REPLAYS_LEASE_SECONDS.read(settings),
        max_run_seconds=REPLAYS_MAX_RUN_SECONDS.read(settings),
    )


def undeclared(settings: Mapping[str, Any]) -> list[str]:
    """The ``backfeed.*`` settings in ``settings`` that no declaration knows."""
    families = [s.prefix for s in DECLARED.values() if isinstance(s, Family)]
    return sorted(
        name
        for name in settings
        if name.startswith("backfeed.")
        and name not in DECLARED
        and not any(name.startswith(prefix) for prefix in families)
    )


def check(settings: Mapping[str, Any]) -> None:
    """Refuse, naming the setting, a ``backfeed.*`` setting nothing declares and a value
    that a declared setting cannot use: at start-up, before anything is served."""
    for name in undeclared(settings):
        close = difflib.get_close_matches(name, DECLARED, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigurationError(f"{name} is not a setting of the service{hint}", name)
    for setting in DECLARED.values():
        if isinstance(setting, Option):
            setting.read(settings)


def includeme(config: Configurator) -> None:
    """Check every setting before the rest of the service reads any."""
    check(config.get_settings())
