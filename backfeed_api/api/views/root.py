"""``GET /`` (the service) and ``GET /{contract}`` (a contract's rules and live totals)."""

from __future__ import annotations

from cornice import Service
from sqlalchemy import select

from ... import __version__
from ...auth.policy import PUBLIC, READ
from ...models import ContractRow
from ..responses import answer
from ..schemas import ReadOne
from ..validation import validate

service = Service(name="service", path="/", description="The service and its contracts.")
contract_service = Service(
    name="contract",
    path="/{contract}",
    description="A contract: its kind, parameters, contribution types and live totals.",
)


@service.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=PUBLIC,
    response_schemas={"200": answer("The service and its contracts.", "Service")},
)
def get_service(request) -> dict:
    """The version and the contracts served."""
    return {
        "version": __version__,
        "contracts": [
            {"name": c.name, "kind": c.kind, "url": request.route_url("contract", contract=c.name)}
            for c in request.registry["contracts"]
        ],
    }


@contract_service.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The contract.", "Contract")},
)
def get_contract(request) -> dict:
    """What clients need to know to act in the contract, and how big it is now."""
    contract = request.contract
    row = request.dbsession.scalars(
        select(ContractRow).where(ContractRow.id == contract.row_id)
    ).one()
    parameters = contract.rules.params.as_dict()
    return {
        "name": contract.name,
        "kind": contract.kind,
        "parameters": {k: v for k, v in parameters.items() if k != "types"},
        "types": parameters["types"],
        "default_type": contract.rules.params.default_type,
        "totals": {
            "users": row.user_count,
            "contributions": row.contribution_count,
            "evaluations": row.evaluation_count,
            "reputation": row.total_reputation,
            "tokens": row.total_tokens,
        },
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }
