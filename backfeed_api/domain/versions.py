"""Versions of a contract's configuration: made under the contract lock, never retroactive.

A contract's parameters are the overrides of its kind's defaults in force. Each change of
them is a new :class:`~backfeed_api.models.ContractVersion`: its number follows the last
one, and its ``seq`` is the action number it takes (the contract's counter of actions is
raised, so every tag of the contract's reads changes), so the actions numbered up to ``seq``
ran under earlier versions and the later ones under it. An action reads the version in force
from the contract row it locks, and records it in its explanation.

The settings (the ``ini`` files) give version 1 of the contracts they declare. At start-up
they are compared with what they said when they last made a version (kept with it), not
with the version in force: only the keys whose value the settings changed since (set, changed or
removed) are applied on top of the version in force, as a new version. So a restart with
the same settings keeps a change made over HTTP, and a changed setting still wins over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import ContractRules, create_contract

from ..clock import iso
from ..models import ContractRow, ContractVersion
from .locking import next_action

INI, HTTP = "ini", "http"
"""Where a version came from: the settings at start-up, or a request."""
UPDATED = "contract.updated"
"""The type of the event of each version after the first."""


def build_rules(kind: str, overrides: Mapping[str, Any], name: str) -> ContractRules:
    """The engine's rules of ``kind`` with ``overrides``; raises the engine's
    :class:`~protocol.ConfigurationError` for an unknown parameter or a bad value."""
    return create_contract(kind, overrides, name=name)


def newest_version(session: Session, contract_id: int, origin: str | None = None):
    """The contract's newest version (of ``origin`` only, when given), or None."""
    query = select(ContractVersion).where(ContractVersion.contract_id == contract_id)
    if origin is not None:
        query = query.where(ContractVersion.origin == origin)
    return session.scalars(query.order_by(ContractVersion.version.desc()).limit(1)).first()


def version_overrides(session: Session, contract_id: int, version: int) -> dict[str, Any] | None:
    """The overrides of one version of the contract, or None when it has no such version."""
    return session.scalar(
        select(ContractVersion.overrides).where(
            ContractVersion.contract_id == contract_id, ContractVersion.version == version
        )
    )


def record_version(
    session: Session,
    row: ContractRow,
    rules: ContractRules,
    origin: str,
    now: datetime,
    token_id: int | None = None,
    ini_overrides: Mapping[str, Any] | None = None,
) -> ContractVersion:
    """Store ``rules`` as the contract's next version and put it in force; ``row`` must be
    locked. The first version applies from the contract's first action; a later one takes
    the next action number, so it applies to the actions committed after it only. A version
    the settings made keeps what they said, ``ini_overrides``."""
    first = newest_version(session, row.id) is None
    number = 1 if first else row.version + 1
    seq = row.action_count if first else next_action(row)
    row.version = number
    version = ContractVersion(
        contract_id=row.id,
        version=number,
        overrides=dict(rules.overrides),
        parameters=rules.params.as_dict(),
        ini_overrides=None if ini_overrides is None else dict(ini_overrides),
        seq=seq,
        origin=origin,
        token_id=token_id,
        created_at=now,
    )
    session.add(version)
    session.flush()
    return version


def _same(a: Any, b: Any) -> bool:
    """Whether two override values are the same setting (``true`` is not ``1``)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def same_configuration(rules: ContractRules, version: ContractVersion) -> bool:
    """Whether ``rules`` configure what ``version`` does: the same value of every
    parameter, however the overrides spell them (a default spelt out or left out). The
    engine has checked and normalised the values, so ``true`` is never ``1`` here. ``PUT``'s
    "the contract as it is" and ``PATCH``'s "a change that changes nothing" both ask this."""
    return rules.params.as_dict() == version.parameters


def describe_version(version: ContractVersion) -> dict[str, Any]:
    """A version as ``GET /{contract}/versions`` lists it and its event tells it."""
    return {
        "version": version.version,
        "overrides": dict(version.overrides),
        "parameters": dict(version.parameters),
        "after_action": version.seq,
        "origin": version.origin,
        "token_id": version.token_id,
        "created_at": iso(version.created_at),
    }


def version_event(name: str, version: ContractVersion) -> dict[str, Any]:
    """The data of the ``contract.updated`` event of a new version of the contract ``name``."""
    return {"contract": name, **describe_version(version)}


def settings_changes(
    previous: Mapping[str, Any], current: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """What the settings changed since the overrides ``previous``: the keys set or changed
    with their values, and the keys removed."""
    changed = {
        key: value
        for key, value in current.items()
        if key not in previous or not _same(previous[key], value)
    }
    return changed, set(previous) - set(current)


def follow_settings(
    session: Session, row: ContractRow, name: str, overrides: Mapping[str, Any], now: datetime
) -> ContractVersion | None:
    """Give the locked contract ``row`` its version 1 from the settings' ``overrides``, or a
    new version when the settings changed since the last version they made (see the module's
    rules); the new version after the first, else None. Raises
    :class:`~protocol.ConfigurationError` when the outcome is not valid."""
    in_force = newest_version(session, row.id)
    if in_force is None:
        rules = build_rules(row.kind, overrides, name)
        record_version(session, row, rules, INI, now, ini_overrides=overrides)
        return None
    last = newest_version(session, row.id, INI)
    said = {} if last is None or last.ini_overrides is None else last.ini_overrides
    changed, removed = settings_changes(said, overrides)
    if not changed and not removed:
        return None
    kept = {key: value for key, value in in_force.overrides.items() if key not in removed}
    rules = build_rules(row.kind, {**kept, **changed}, name)
    return record_version(session, row, rules, INI, now, ini_overrides=overrides)
