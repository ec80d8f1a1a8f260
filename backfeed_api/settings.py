"""Reading the ``backfeed.*`` settings of an ini file into typed values, with clear errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pyramid.settings import asbool

from protocol import ConfigurationError, ContractRules, create_contract, installed_kinds
from protocol.parameters import parse_override

if TYPE_CHECKING:
    from limits import RateLimitItem

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


def database_url(settings: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The database URL: ``BACKFEED_DATABASE_URL`` if set, else ``sqlalchemy.url``."""
    url = environ.get(DATABASE_URL_VARIABLE) or settings.get("sqlalchemy.url", "")
    if not url.strip():
        raise ConfigurationError(
            f"no database configured: set {DATABASE_URL_VARIABLE} or sqlalchemy.url"
        )
    return url.strip()


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
    """The contracts listed in ``backfeed.contracts`` (``name`` or ``name:kind`` entries).

    Without that setting every installed kind is served under its own name. Overrides come
    from ``backfeed.contract.<name>.<parameter>`` settings.
    """
    listed = settings.get("backfeed.contracts", "").split()
    entries = listed or installed_kinds()
    specs = []
    seen: set[str] = set()
    for entry in entries:
        name, _, kind = entry.partition(":")
        kind = kind or name
        if not CONTRACT_NAME.fullmatch(name):
            raise ConfigurationError(
                f"contract name {name!r} must be letters, digits, '-' or '_', up to 100"
            )
        if name in seen:
            raise ConfigurationError(f"contract {name!r} is listed twice")
        seen.add(name)
        prefix = f"backfeed.contract.{name}."
        overrides = {
            key[len(prefix) :]: _override(key, value)
            for key, value in settings.items()
            if key.startswith(prefix)
        }
        specs.append(ContractSpec(name=name, kind=kind, overrides=overrides))
    unknown = {
        key.split(".")[2]
        for key in settings
        if key.startswith("backfeed.contract.") and key.count(".") >= 3
    } - seen
    if unknown:
        raise ConfigurationError(
            "overrides given for contracts that are not served: " + ", ".join(sorted(unknown))
        )
    return specs


def create_schema(settings: Mapping[str, Any]) -> bool:
    """Whether start-up brings the database schema up to date by itself (development)."""
    return asbool(settings.get("backfeed.create_schema", False))


def public_reads(settings: Mapping[str, Any]) -> bool:
    """Whether the GET routes of a contract answer without a token (``backfeed.public_reads``,
    true by default); when false they need a token of that contract, of any role."""
    return asbool(settings.get("backfeed.public_reads", True))


def dev_admin_token(settings: Mapping[str, Any]) -> str | None:
    """The token that ``backfeed.dev_admin_token`` makes admin of every contract, or None.

    Meant for development only (``development.ini`` sets one so that the quick start works);
    production gives out tokens with ``backfeed token create`` instead.
    """
    token = str(settings.get("backfeed.dev_admin_token", "") or "").strip()
    return token or None


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


LARGEST_SETTING = 10**9
"""The largest count or number of seconds a setting may give: beyond it a login window
reaches back before the year 1 (OverflowError at every login)."""
LARGEST_TOKEN_DAYS = 36500
"""The longest a login token may live: a hundred years, so its expiry is a valid date."""


def _positive(
    settings: Mapping[str, Any], name: str, default: float, kind: type, largest: float
) -> Any:
    raw = settings.get(name, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a positive number, not {raw!r}") from None
    if not 0 < value <= largest:  # also refuses NaN and infinity
        raise ConfigurationError(
            f"{name} must be a positive number up to {largest:,}, not {raw!r}"
        )
    return value


def login_limits(settings: Mapping[str, Any]) -> LoginLimits:
    """The login settings: ``backfeed.login_max_failures`` (5 per username and client
    address), ``backfeed.login_max_failures_per_username`` (100, from any address),
    ``backfeed.login_max_failures_per_address`` (20, for any username),
    ``backfeed.login_window_seconds`` (900, a quarter of an hour),
    ``backfeed.login_token_days`` (30) and ``backfeed.login_max_tokens`` (10 per user)."""

    def count(name: str, default: int) -> int:
        return _positive(settings, name, default, int, LARGEST_SETTING)

    return LoginLimits(
        per_username_address=count("backfeed.login_max_failures", 5),
        per_username=count("backfeed.login_max_failures_per_username", 100),
        per_address=count("backfeed.login_max_failures_per_address", 20),
        window_seconds=_positive(
            settings, "backfeed.login_window_seconds", 900, float, LARGEST_SETTING
        ),
        token_days=_positive(settings, "backfeed.login_token_days", 30, float, LARGEST_TOKEN_DAYS),
        tokens_per_user=count("backfeed.login_max_tokens", 10),
    )


def max_body_bytes(settings: Mapping[str, Any]) -> int:
    """``backfeed.max_body_bytes``: the largest request body accepted, 64 KiB by default."""
    text = str(settings.get("backfeed.max_body_bytes", DEFAULT_MAX_BODY_BYTES)).strip()
    if not WHOLE_NUMBER.fullmatch(text) or int(text) < 1:
        raise ConfigurationError(
            f"backfeed.max_body_bytes must be a positive number of bytes, not {text!r}"
        )
    return int(text)


def cors_origins(settings: Mapping[str, Any]) -> frozenset[str]:
    """``backfeed.cors_origins``: the browser origins allowed to call the API (none by
    default), e.g. ``https://app.example.org``, separated by spaces or new lines."""
    origins = str(settings.get("backfeed.cors_origins", "")).split()
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ConfigurationError(
                f"backfeed.cors_origins: {origin!r} is not an origin like "
                "https://app.example.org (lower case scheme and host, an optional port, "
                "no path, no wildcard)"
            )
    return frozenset(origins)


def cors_max_age(settings: Mapping[str, Any]) -> int:
    """``backfeed.cors_max_age``: how long browsers may keep a preflight answer, in seconds
    (600 by default)."""
    text = str(settings.get("backfeed.cors_max_age", 600)).strip()
    if not WHOLE_NUMBER.fullmatch(text):
        raise ConfigurationError(
            f"backfeed.cors_max_age must be a number of seconds, not {text!r}"
        )
    return int(text)


TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
RATE_LIMIT_STORES = ("memory", "redis", "rediss", "redis+unix")
KEY_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def _flag(settings: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = settings.get(name, default)
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ConfigurationError(f"{name} must be true or false, not {raw!r}")
    return word in TRUE_WORDS


def _rate(settings: Mapping[str, Any], name: str, default: str) -> RateLimitItem:
    from limits import parse_many  # imported here: ``limits`` is slow to import

    text = str(settings.get(name, default)).strip()
    try:
        items = parse_many(text)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a rate like '20/minute' or '600 per 10 minutes', not {text!r}"
        ) from None
    if len(items) != 1:
        raise ConfigurationError(f"{name} takes a single rate, not {text!r}")
    (item,) = items
    if not 1 <= item.amount <= LARGEST_SETTING or item.get_expiry() > LARGEST_SETTING:
        raise ConfigurationError(
            f"{name} must allow 1 to {LARGEST_SETTING:,} requests in a window of at most "
            f"{LARGEST_SETTING:,} seconds, not {text!r}"
        )
    return item


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
    """The rate limits of ``backfeed.rate_limits`` (true by default), counted in
    ``backfeed.rate_limit_storage_url`` (``memory://``, this process alone, by default;
    ``redis://host:port/db`` to share the counts between processes) under the key prefix
    ``backfeed.rate_limit_key_prefix`` (``backfeed``), at ``backfeed.rate_limit_logins``
    (``20/minute`` per address), ``backfeed.rate_limit_writes`` (``300/minute``) and
    ``backfeed.rate_limit_reads`` (``600/minute``) per client."""
    url = str(settings.get("backfeed.rate_limit_storage_url", "memory://")).strip()
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in RATE_LIMIT_STORES:
        raise ConfigurationError(
            f"backfeed.rate_limit_storage_url must be memory:// or a Redis URL like "
            f"redis://127.0.0.1:6379/0, not {url!r}"
        )
    prefix = str(settings.get("backfeed.rate_limit_key_prefix", "backfeed")).strip()
    if not KEY_PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            "backfeed.rate_limit_key_prefix must be 1 to 100 letters, digits or _ . : -, "
            f"not {prefix!r}"
        )
    return RateLimits(
        enabled=_flag(settings, "backfeed.rate_limits", True),
        storage_url=url,
        key_prefix=prefix,
        logins=_rate(settings, "backfeed.rate_limit_logins", "20/minute"),
        writes=_rate(settings, "backfeed.rate_limit_writes", "300/minute"),
        reads=_rate(settings, "backfeed.rate_limit_reads", "600/minute"),
    )


def public_url(settings: Mapping[str, Any]) -> str | None:
    """``backfeed.public_url``: the base of every absolute URL the service gives out
    (``https://api.example.org``, or with a path ``https://example.org/backfeed``), without
    a trailing slash; None when left out, and URLs follow each request's own address."""
    text = str(settings.get("backfeed.public_url", "") or "").strip()
    if not text:
        return None
    problem = f"backfeed.public_url must be a URL like https://api.example.org, not {text!r}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(problem) from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or "?" in text
        or "#" in text
        or not URL_PATH.fullmatch(parts.path)
    ):
        raise ConfigurationError(problem)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"
