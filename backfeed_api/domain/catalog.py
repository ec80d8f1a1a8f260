"""The contracts this deployment serves: those its settings declare, and those made over
HTTP (``PUT /{contract}``), each with the rules of every version of its configuration."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pyramid.config import Configurator
from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import ConfigurationError, ContractRules

from ..errors import NotFound
from ..models import ContractRow, ContractVersion
from ..settings import CONTRACT_NAME, contract_specs
from . import events
from .activity import ActivityIndex
from .events import ContractRef
from .ledger_index import LedgerIndex
from .locking import lock_contract
from .ranking import VoteIndex
from .versions import (
    HTTP,
    UPDATED,
    build_rules,
    follow_settings,
    version_event,
    version_overrides,
)

log = logging.getLogger(__name__)


RULES_KEPT = 4
"""How many versions' rules a served contract keeps built, the newest always among them: a
request names the version it read, almost always the newest or the one before, and a
contract patched again and again must not grow the process for ever."""


class ServedContract:
    """A served contract: its kind, the id of its database row, the rules of the latest
    versions of its configuration this process has used, and this process's indexes of its
    votes for ranking, of its actions and of its ledger for statistics.

    An action takes the rules of the version it read under the contract lock
    (:meth:`rules_at`), and so do the reads that render with them (the contract, its
    users, contributions and votes: :func:`~backfeed_api.pipeline.conditional.counted_tag`
    reads the version in force first). :attr:`rules` are those of the
    newest version this process has met, for the reads that only need what no version
    changes in a way they depend on: the names of the contribution types (the demo, whose
    every action is then checked under the lock), the values votes may take (the community
    statistics, which count the values votes have), and a first check of a replay's
    parameters (its run reads the version in force, and fails saying so if they do not fit).
    """

    def __init__(self, name: str, kind: str, row_id: int, version: int, rules: ContractRules):
        self.name = name
        self.kind = kind
        self.row_id = row_id
        self.votes = VoteIndex(row_id)
        self.activity = ActivityIndex(row_id)
        self.ledger = LedgerIndex(row_id)
        self._rules: OrderedDict[int, ContractRules] = OrderedDict({version: rules})
        self._newest = version
        self._lock = threading.Lock()

    @property
    def rules(self) -> ContractRules:
        """The rules of the newest version this process has met."""
        return self._rules[self._newest]

    def rules_at(self, session: Session, version: int) -> ContractRules:
        """The rules of the contract's configuration ``version``, built from its stored
        overrides and kept for the next requests, :data:`RULES_KEPT` versions at most (the
        least recently used other than the newest go first)."""
        with self._lock:
            rules = self._rules.get(version)
            if rules is not None:
                self._rules.move_to_end(version)
                return rules
        overrides = version_overrides(session, self.row_id, version)
        if overrides is None:
            raise ConfigurationError(f"contract {self.name!r} has no version {version}")
        rules = build_rules(self.kind, overrides, self.name)
        with self._lock:
            rules = self._rules.setdefault(version, rules)
            self._rules.move_to_end(version)
            self._newest = max(self._newest, version)
            for old in [v for v in self._rules if v != self._newest]:
                if len(self._rules) <= RULES_KEPT:
                    break
                del self._rules[old]
        return rules


def _served(session: Session, row: ContractRow) -> ServedContract:
    """The served contract of a stored row, with the rules of its version in force."""
    overrides = version_overrides(session, row.id, row.version)
    if overrides is None:
        raise ConfigurationError(f"contract {row.name!r} has no version {row.version}")
    rules = build_rules(row.kind, overrides, row.name)
    return ServedContract(row.name, row.kind, row.id, row.version, rules)


def _made_over_http():
    """The query of the contract rows whose version 1 was made over HTTP."""
    return select(ContractRow).join(
        ContractVersion,
        (ContractVersion.contract_id == ContractRow.id)
        & (ContractVersion.version == 1)
        & (ContractVersion.origin == HTTP),
    )


REFRESH_SECONDS = 1.0
"""How often, at most, a process looks in the database for the contracts made over HTTP
by other processes: a name it does not know is answered from memory in between."""


class ContractCatalog:
    """Name → served contract: those of the settings, and those made over HTTP, found in the
    database by whichever process serves them first.

    Looking for new contracts reads the contracts' table, so it is done at most once every
    :data:`REFRESH_SECONDS` per process, for every name this process does not know and for
    the listings: a flood of made-up names costs one query a second, and a contract made
    by another process is served here within that second (one made by this process is
    served at once, :meth:`add_when_committed`).
    """

    def __init__(self, contracts: list[ServedContract]) -> None:
        self._by_name = {contract.name: contract for contract in contracts}
        self._refreshed_at: datetime | None = None
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[ServedContract]:
        return iter(list(self._by_name.values()))

    def get(self, name: str) -> ServedContract | None:
        """The contract called ``name`` that this process knows of, or None."""
        return self._by_name.get(name)

    def _due(self, now: datetime) -> bool:
        """Whether a refresh is due at ``now``, counting it done if so (a clock set back
        makes it due too, so that it never stops the refreshes)."""
        with self._lock:
            last = self._refreshed_at
            if last is not None and last <= now < last + timedelta(seconds=REFRESH_SECONDS):
                return False
            self._refreshed_at = now
            return True

    def find_outside(self, request) -> ServedContract | None:
        """The contract named in the request's URL, or None. A name this process does not
        know is looked up, when a refresh is due, in a short session of its own, so the
        request's transaction still starts with its write lock on SQLite (see
        :func:`~backfeed_api.auth.policy.read_credential`)."""
        name = request.matchdict.get("contract")
        contract = self.get(name)
        if contract is None and CONTRACT_NAME.fullmatch(name) and self._due(request.now):
            with request.registry["dbsession_factory"]() as session:
                self._read_new(session)
            contract = self.get(name)
        return contract

    def refresh(self, session: Session, now: datetime) -> None:
        """Learn the contracts made over HTTP since this process last looked, unless it
        looked less than :data:`REFRESH_SECONDS` before ``now``."""
        if self._due(now):
            self._read_new(session)

    def _read_new(self, session: Session) -> None:
        """Serve every contract made over HTTP that this process does not know yet."""
        query = _made_over_http()
        if self._by_name:
            query = query.where(ContractRow.name.not_in(list(self._by_name)))
        for row in session.scalars(query):
            self.add(_served(session, row))

    def add(self, contract: ServedContract) -> ServedContract:
        """Serve ``contract`` (the one already served under its name, if any, stays)."""
        return self._by_name.setdefault(contract.name, contract)

    def add_when_committed(self, transaction, contract: ServedContract) -> None:
        """Serve ``contract``, made by ``transaction``, once that transaction has committed
        (a contract whose row was rolled back is never served)."""

        def serve(committed: bool) -> None:
            if committed:
                self.add(contract)

        transaction.addAfterCommitHook(serve)


def ensure_contract_rows(
    session: Session, rules: list[ContractRules], now: datetime
) -> dict[str, int]:
    """Create the rows of contracts served for the first time, stamped ``now``; return
    name → row id.

    A name already stored with another kind is refused: its users were scored by other rules.
    """
    names = [contract.name for contract in rules]
    stored = {
        row.name: row
        for row in session.scalars(select(ContractRow).where(ContractRow.name.in_(names)))
    }
    for contract in rules:
        row = stored.get(contract.name)
        if row is None:
            row = ContractRow(name=contract.name, kind=contract.kind, created_at=now)
            session.add(row)
            stored[contract.name] = row
        elif row.kind != contract.kind:
            raise ConfigurationError(
                f"contract {contract.name!r} is stored as kind {row.kind!r}, "
                f"but the settings make it {contract.kind!r}"
            )
    session.flush()
    return {name: row.id for name, row in stored.items()}


def _declared(
    session: Session, rules: ContractRules, row_id: int, overrides: Mapping[str, Any], now
) -> ServedContract:
    """A contract of the settings, its versions following them (:mod:`.versions`)."""
    row = lock_contract(session, row_id)
    try:
        made = follow_settings(session, row, rules.name, overrides, now)
    except ConfigurationError as error:
        raise ConfigurationError(f"contract {rules.name!r}: {error.message}") from error
    if made is not None:
        events.record(
            session, ContractRef(row_id), UPDATED, version_event(rules.name, made), [], now
        )
    return _served(session, row)


def _read_only(session: Session, rules: ContractRules, row_id: int) -> ServedContract:
    """A contract of the settings as stored, writing nothing: the settings' rules as its
    version 1 when it has no version yet."""
    row = session.get(ContractRow, row_id)
    if version_overrides(session, row_id, row.version) is None:
        return ServedContract(rules.name, rules.kind, row_id, row.version, rules)
    return _served(session, row)


def load_catalog(
    session: Session, settings, now: datetime, *, follow: bool = True
) -> ContractCatalog:
    """Build every configured contract, make sure each has its database row (a new row
    created ``now``) and its versions following the settings, and add the contracts made
    over HTTP. With ``follow`` false (the readers: ``check``, ``replay``) no version is
    made: a contract is served as stored."""
    specs = contract_specs(settings)
    rules = [spec.build() for spec in specs]
    row_ids = ensure_contract_rows(session, rules, now)
    served = [
        _declared(session, r, row_ids[r.name], spec.overrides, now)
        if follow
        else _read_only(session, r, row_ids[r.name])
        for spec, r in zip(specs, rules, strict=True)
    ]
    catalog = ContractCatalog(served)
    catalog.refresh(session, now)
    return catalog


def load_indexes(session: Session, catalog: ContractCatalog) -> None:
    """Read every contract's in-memory indexes (votes, actions, ledger) from the database.

    Called at start-up, so that no request pays for the first read of a large contract
    (seconds for millions of rows) and no reader can make a worker do it: under gunicorn
    the master loads them before forking, and its workers start with them. Requests then
    read only the rows added since.
    """
    for contract in catalog:
        begun = time.perf_counter()
        actions = contract.activity.actions(session).time.size
        votes = contract.votes.active_votes(session).voter.size
        contract.ledger.refresh(session)
        log.info(
            "contract %s: read %d actions, %d active votes and %d ledger entries in %.2f s",
            contract.name,
            actions,
            votes,
            contract.ledger.entries,
            time.perf_counter() - begun,
        )


def find_contract(request) -> ServedContract:
    """The contract named in the URL, or a 404."""
    contract = request.registry["contracts"].find_outside(request)
    if contract is None:
        raise NotFound("no such contract")
    return contract


def includeme(config: Configurator) -> None:
    """Load the catalog at start-up (creating the schema first when so configured), new
    contract rows stamped by the registry's clock, then the contracts' indexes."""
    from ..migrations import upgrade_database
    from ..settings import CREATE_SCHEMA

    settings = config.get_settings()
    engine = config.registry["db_engine"]
    if CREATE_SCHEMA.read(settings):
        upgrade_database(engine)
    with config.registry["dbsession_factory"]() as session, session.begin():
        config.registry["contracts"] = load_catalog(session, settings, config.registry["clock"]())
    with config.registry["dbsession_factory"]() as session, session.begin():
        load_indexes(session, config.registry["contracts"])
    config.add_request_method(find_contract, "contract", reify=True)
