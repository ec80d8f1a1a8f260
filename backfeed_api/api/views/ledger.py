"""``/{contract}/ledger/{id}``: one ledger entry and why it is what it is."""

from __future__ import annotations

from cornice import Service

from ...auth.policy import READ
from ...domain.ledger import find_entry
from ...errors import not_found
from ..presenters import ledger_entries
from ..responses import answer
from ..schemas import ReadOne
from ..validation import validate
from .common import path_id

entry = Service(
    name="ledger_entry",
    path="/{contract}/ledger/{id}",
    description="One ledger entry: its cause, deltas and balances, and its explanation.",
)


@entry.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The ledger entry and its explanation.", "LedgerEntry")},
)
def get_entry(request) -> dict:
    """A user's entry, or a collective loss (no user), with its rule, inputs and formulas."""
    found = find_entry(request.dbsession, request.contract.row_id, path_id(request))
    if found is None:
        raise not_found("ledger entry")
    return ledger_entries(request.dbsession, request.contract.row_id, [found])[0]
