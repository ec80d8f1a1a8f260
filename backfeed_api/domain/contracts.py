"""Contracts managed over HTTP: creating one (``PUT /{contract}``) and changing its
parameters (``PATCH /{contract}``), each change a new version of its configuration
(:mod:`.versions`).

A ``PUT`` is idempotent: the same kind and parameters as the contract's version in force is
a 200 that changes nothing; another kind, or other parameters, is a 409 (parameters change
with ``PATCH``, which keeps the history of versions). A ``PATCH`` sets the parameters it
names on top of the version in force (``null`` puts one back to the kind's default); one
that changes no parameter's value makes no version. Both judge "the same parameters" alike
(:func:`~.versions.same_configuration`): the same values, however the overrides spell them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol import ConfigurationError, ContractRules, UnknownContractKind

from ..errors import ClientError
from ..models import ContractRow, ContractVersion
from ..settings import CONTRACT_NAME
from .catalog import ServedContract
from .locking import lock_contract
from .versions import (
    HTTP,
    build_rules,
    newest_version,
    record_version,
    same_configuration,
)


class ContractExists(ClientError):
    """A ``PUT`` of a contract that exists with another kind or other parameters (409)."""

    status = 409
    code = "contract_exists"


class BadContractName(ClientError):
    """A contract name the settings would refuse: letters, digits, ``-`` and ``_``, up to
    100, starting with a letter or a digit (400)."""

    location = "url"


@dataclass(frozen=True)
class Configured:
    """A contract row, the rules of its version in force and that version's row."""

    row: ContractRow
    rules: ContractRules
    version: ContractVersion

    def served(self) -> ServedContract:
        """The contract as a process serves it, under this version."""
        return ServedContract(
            self.row.name, self.row.kind, self.row.id, self.version.version, self.rules
        )


def _rules(kind: str, overrides: Mapping[str, Any], name: str) -> ContractRules:
    """The rules of ``kind`` with ``overrides``; a refusal names the parameter at fault
    under ``parameters`` (an unknown kind: ``kind``)."""
    try:
        return build_rules(kind, overrides, name)
    except UnknownContractKind as error:
        error.field = "kind"
        raise
    except ConfigurationError as error:
        raise named_in_parameters(error) from None


def named_in_parameters(error: ConfigurationError) -> ConfigurationError:
    """The engine's refusal of a parameter, named as a request body names it
    (``parameters.<name>``), so that every route taking parameters refuses them alike:
    ``400 invalid_parameter``."""
    error.field = "parameters" if error.field is None else f"parameters.{error.field}"
    return error


def change_parameters(
    session: Session,
    contract: ServedContract,
    parameters: Mapping[str, Any],
    now: datetime,
    token_id: int | None,
) -> tuple[Configured, bool]:
    """Set ``parameters`` (``None``: back to the default) on top of the version in force, as
    a new version applying to the actions committed after it; whether a version was made
    (none when nothing changes). Raises the engine's :class:`~protocol.ConfigurationError`
    for an unknown parameter or a bad value, changing nothing."""
    row = lock_contract(session, contract.row_id)
    in_force = newest_version(session, row.id)
    overrides = {
        **{key: value for key, value in in_force.overrides.items() if key not in parameters},
        **{key: value for key, value in parameters.items() if value is not None},
    }
    rules = _rules(row.kind, overrides, contract.name)
    if same_configuration(rules, in_force):
        return Configured(row, rules, in_force), False
    return Configured(row, rules, record_version(session, row, rules, HTTP, now, token_id)), True


def put_contract(
    session: Session,
    name: str,
    kind: str,
    parameters: Mapping[str, Any],
    now: datetime,
    token_id: int | None,
) -> tuple[Configured, bool]:
    """Create the contract ``name`` of ``kind`` with ``parameters`` (its version 1), or find
    it as it is; whether it was created. Raises :class:`ContractExists` for one of another
    kind or with other parameters, :class:`BadContractName`, and the engine's
    :class:`~protocol.ConfigurationError` for an unknown kind or parameter."""
    if not CONTRACT_NAME.fullmatch(name):
        raise BadContractName(
            "a contract name is letters, digits, - and _, up to 100 characters, starting with a "
            "letter or a digit",
            "contract",
        )
    rules = _rules(kind, parameters, name)
    try:
        with session.begin_nested():
            row = ContractRow(name=name, kind=kind, created_at=now)
            session.add(row)
            session.flush()
    except IntegrityError:  # it exists, or another request made it first
        return _existing(session, name, kind, rules), False
    row = lock_contract(session, row.id)
    return Configured(row, rules, record_version(session, row, rules, HTTP, now, token_id)), True


def _existing(session: Session, name: str, kind: str, rules: ContractRules) -> Configured:
    """The stored contract ``name``, when the ``PUT`` asks for it as it is: of ``kind``,
    configured as ``rules`` (:func:`~.versions.same_configuration`, as ``PATCH`` decides)."""
    row = session.scalars(select(ContractRow).where(ContractRow.name == name)).one()
    row = lock_contract(session, row.id)
    if row.kind != kind:
        raise ContractExists(f"contract {name!r} exists, of kind {row.kind!r}", "kind")
    in_force = newest_version(session, row.id)
    if in_force is None or not same_configuration(rules, in_force):
        raise ContractExists(
            f"contract {name!r} exists with other parameters: change them with "
            f"PATCH /{name}, which makes a new version",
            "parameters",
        )
    return Configured(row, build_rules(kind, in_force.overrides, name), in_force)
