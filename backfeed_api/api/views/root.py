"""``GET /`` (the service), ``/{contract}`` (a contract's rules and live totals: read,
create, change its parameters) and ``GET /{contract}/versions`` (its configurations)."""

from __future__ import annotations

from cornice import Service
from sqlalchemy import select

from ... import __version__
from ...auth.policy import ADMIN_ONLY, PUBLIC, READ, SERVICE
from ...domain import events
from ...domain.contracts import change_parameters, put_contract
from ...domain.listing import list_versions
from ...domain.versions import UPDATED, describe_version, version_event
from ...models import ContractRow
from ..paging import id_window, page
from ..presenters import contract_document
from ..responses import answer, refusal
from ..schemas import ListVersions, PatchContract, PutContract, ReadOne
from ..validation import validate
from .common import body, query

service = Service(name="service", path="/", description="The service and its contracts.")
contract_service = Service(
    name="contract",
    path="/{contract}",
    description="A contract: its kind, parameters, contribution types and live totals.",
)
versions_service = Service(
    name="contract_versions",
    path="/{contract}/versions",
    description="Every version of a contract's configuration, oldest first.",
)


@service.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=PUBLIC,
    response_schemas={"200": answer("The service and its contracts.", "Service")},
)
def get_service(request) -> dict:
    """The version and the contracts served."""
    catalog = request.registry["contracts"]
    catalog.refresh(request.dbsession, request.now)
    return {
        "version": __version__,
        "contracts": [
            {"name": c.name, "kind": c.kind, "url": request.route_url("contract", contract=c.name)}
            for c in catalog
        ],
    }


@contract_service.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The contract.", "Contract")},
)
def get_contract(request) -> dict:
    """What clients need to know to act in the contract, and how big it is now: its
    ``version`` is the version of its configuration in force."""
    contract = request.contract
    row = request.dbsession.scalars(
        select(ContractRow).where(ContractRow.id == contract.row_id)
    ).one()
    return contract_document(row, contract.rules_at(request.dbsession, row.version))


@contract_service.put(
    schema=PutContract(),
    validators=(validate,),
    content_type="application/json",
    permission=SERVICE,
    response_schemas={
        "201": answer("The created contract, at version 1.", "Contract", ("Location",)),
        "200": answer("The contract existed with this kind and these parameters.", "Contract"),
        "409": refusal(
            "Or the contract exists with another kind or other parameters (change them with "
            "PATCH)."
        ),
    },
)
def put_contract_view(request) -> dict:
    """Create a contract of ``kind`` with ``parameters`` (overrides of the kind's defaults),
    served at once by this process and within a second by every other. The same body again
    is a 200; another kind or other parameters a 409. A service-wide admin token only."""
    data = body(request)
    name = request.matchdict["contract"]
    identity = request.identity
    configured, created = put_contract(
        request.dbsession, name, data["kind"], data["parameters"], request.now, identity.token_id
    )
    # served here from the next request on, without waiting for the catalog's refresh
    request.registry["contracts"].add_when_committed(request.tm.get(), configured.served())
    if created:
        request.response.status_code = 201
        request.response.location = request.route_url("contract", contract=name)
    return contract_document(configured.row, configured.rules)


@contract_service.patch(
    schema=PatchContract(),
    validators=(validate,),
    content_type="application/json",
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("The contract, at its new version.", "Contract")},
)
def patch_contract(request) -> dict:
    """Change some parameters (``null``: back to the kind's default) as a new version of the
    configuration: it applies to the actions committed after it, never to earlier ones.
    A change that changes nothing makes no version. Admin of the contract, or service-wide."""
    configured, made = change_parameters(
        request.dbsession,
        request.contract,
        body(request)["parameters"],
        request.now,
        request.identity.token_id,
    )
    if made:
        data = version_event(request.contract.name, configured.version)
        events.record(request.dbsession, request.contract, UPDATED, data, [], request.now)
    return contract_document(configured.row, configured.rules)


@versions_service.get(
    schema=ListVersions(),
    validators=(validate,),
    permission=READ,
    response_schemas={
        "200": answer("A page of versions, oldest first.", "ContractVersionPage", ("Link",))
    },
)
def get_versions(request) -> dict:
    """Every version of the contract's configuration, oldest first: its number, its
    overrides, its full parameters, the action after which it applies, where it came from
    (``ini``: the settings; ``http``: a request, by ``token_id``) and when."""
    q = query(request)
    found = list_versions(
        request.dbsession, request.contract, q["start"], q["limit"], id_window(q)
    )
    return page(request, [describe_version(v) for v in found.items], found.total, q)
