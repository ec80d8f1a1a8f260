"""The contracts this deployment serves, built from the settings at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pyramid.config import Configurator
from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import ConfigurationError, ContractRules

from ..errors import NotFound
from ..models import ContractRow
from ..settings import contract_specs
from .activity import ActivityIndex
from .ledger_index import LedgerIndex
from .ranking import VoteIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedContract:
    """A served contract: its engine rules, the id of its database row, and this process's
    indexes of its votes for ranking, of its actions and of its ledger for statistics."""

    name: str
    rules: ContractRules
    row_id: int
    votes: VoteIndex
    activity: ActivityIndex
    ledger: LedgerIndex

    @property
    def kind(self) -> str:
        """The contract kind, e.g. ``example``."""
        return self.rules.kind


class ContractCatalog:
    """Name → served contract, fixed for the life of the process."""

    def __init__(self, contracts: list[ServedContract]) -> None:
        self._by_name = {contract.name: contract for contract in contracts}

    def __iter__(self) -> Iterator[ServedContract]:
        return iter(self._by_name.values())

    def get(self, name: str) -> ServedContract | None:
        """The contract called ``name``, or None."""
        return self._by_name.get(name)


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


def load_catalog(session: Session, settings, now: datetime) -> ContractCatalog:
    """Build every configured contract and make sure each has its database row (a new row
    created ``now``)."""
    rules = [spec.build() for spec in contract_specs(settings)]
    row_ids = ensure_contract_rows(session, rules, now)
    return ContractCatalog(
        [
            ServedContract(
                name=c.name,
                rules=c,
                row_id=row_ids[c.name],
                votes=VoteIndex(row_ids[c.name]),
                activity=ActivityIndex(row_ids[c.name]),
                ledger=LedgerIndex(row_ids[c.name]),
            )
            for c in rules
        ]
    )


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
    contract = request.registry["contracts"].get(request.matchdict.get("contract"))
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
