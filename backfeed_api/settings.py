"""Reading the ``backfeed.*`` settings of an ini file into typed values, with clear errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.settings import asbool

from protocol import ConfigurationError, Contract, create_contract, installed_kinds
from protocol.parameters import parse_override

DATABASE_URL_VARIABLE = "BACKFEED_DATABASE_URL"
CONTRACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# waitress's own max_request_body_size in the shipped ini files and in ``backfeed serve``:
# well above the application's limit, so that waitress's plain-text 413 only meets bodies
# far beyond what the application would refuse in JSON.
SERVER_MAX_BODY_BYTES = 1024 * 1024
WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
# An origin as browsers send it: scheme, host and an optional port, nothing else.
ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


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

    def build(self) -> Contract:
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
    attempt is answered 429: per username of a contract, and per client address."""

    per_username: int
    per_address: int
    window_seconds: float


LARGEST_SETTING = 10**9
"""The largest count or number of seconds a setting may give: beyond it a login window
reaches back before the year 1 (OverflowError at every login)."""


def _positive(settings: Mapping[str, Any], name: str, default: float, kind: type) -> Any:
    raw = settings.get(name, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a positive number, not {raw!r}") from None
    if not 0 < value <= LARGEST_SETTING:  # also refuses NaN and infinity
        raise ConfigurationError(
            f"{name} must be a positive number up to {LARGEST_SETTING:,}, not {raw!r}"
        )
    return value


def login_limits(settings: Mapping[str, Any]) -> LoginLimits:
    """The login throttle of ``backfeed.login_max_failures`` (5 per username by default),
    ``backfeed.login_max_failures_per_address`` (20) and ``backfeed.login_window_seconds``
    (900, a quarter of an hour)."""
    return LoginLimits(
        per_username=_positive(settings, "backfeed.login_max_failures", 5, int),
        per_address=_positive(settings, "backfeed.login_max_failures_per_address", 20, int),
        window_seconds=_positive(settings, "backfeed.login_window_seconds", 900, float),
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
