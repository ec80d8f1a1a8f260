"""``GET /__api__``: the OpenAPI (Swagger 2.0) document generated from the Cornice services.

cornice_swagger writes the requests; the responses come from the ``response_schemas``
that each view declares (:mod:`..responses`), with the definitions of :mod:`.responses`, and
the path parameters are made precise here: ``{contract}`` is one of the contracts this
deployment serves, ``{id}`` an integer id.
"""

from __future__ import annotations

import colander
from cornice import Service
from cornice.service import get_services
from cornice_swagger import CorniceSwagger
from cornice_swagger.converters.schema import (
    ArrayTypeConverter,
    BooleanTypeConverter,
    IntegerTypeConverter,
    NumberTypeConverter,
    ObjectTypeConverter,
    StringTypeConverter,
)
from cornice_swagger.swagger import ParameterHandler
from pyramid.config import Configurator

from ...auth.policy import ADMIN_ONLY, LOGOUT, PUBLIC, READ, SERVICE, SESSIONS, WRITE
from ...pipeline.idempotency import HEADER as IDEMPOTENCY_HEADER
from ...pipeline.idempotency import KEY_PATTERN
from ...settings import PUBLIC_READS
from ..responses import answer, routes
from ..schemas import (
    MAX_OVERRIDES,
    EventTypes,
    KnownKeys,
    Overrides,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    StrictSequence,
    StrictString,
    VoteValue,
)
from .responses import ID, RATE_LIMIT_HEADERS, document_responses, ref

api_service = Service(
    name="openapi", path="/__api__", description="The OpenAPI document of this service."
)


class ClosedObjectConverter(ObjectTypeConverter):
    """An object schema that also states whether keys beyond its properties are refused.

    cornice_swagger only writes ``additionalProperties`` for mappings that preserve unknown
    keys; ours refuse them (``unknown="raise"``), which the document must say as
    ``additionalProperties: false``.
    """

    def convert_type(self, schema_node: colander.SchemaNode) -> dict:
        converted = super().convert_type(schema_node)
        if schema_node.typ.unknown == "raise":
            converted["additionalProperties"] = False
        return converted


class OverridesConverter(ObjectTypeConverter):
    """Contract parameters: an object of numbers and booleans (and ``null``s in a change),
    whose names the contract kind decides."""

    def convert_type(self, schema_node: colander.SchemaNode) -> dict:
        converted = super().convert_type(schema_node)
        converted.pop("properties", None)
        converted.pop("required", None)
        converted["additionalProperties"] = {}
        converted["maxProperties"] = MAX_OVERRIDES
        return converted


class OperationParameters(ParameterHandler):
    """The parameters of an operation, without a body parameter where no body is taken.

    Reads validate an empty body schema (any field in it is refused), which cornice_swagger
    would otherwise document as a required body on every GET.
    """

    def from_schema(self, schema_node: colander.SchemaNode) -> list[dict]:
        return [
            parameter
            for parameter in super().from_schema(schema_node)
            if parameter["in"] != "body" or not _takes_no_fields(schema_node["body"])
        ]


def _takes_no_fields(node: colander.SchemaNode) -> bool:
    """Whether ``node`` is a mapping that accepts no key at all."""
    return isinstance(node.typ, colander.Mapping) and not node.children


class ServiceSwagger(CorniceSwagger):
    """cornice_swagger configured for our strict colander types.

    The converters must be class attributes: ``CorniceSwagger.__init__`` builds its type
    dispatcher from them, so setting them on an instance afterwards has no effect.
    """

    custom_type_converters = {
        StrictInteger: IntegerTypeConverter,
        StrictNumber: NumberTypeConverter,
        VoteValue: NumberTypeConverter,
        StrictString: StringTypeConverter,
        EventTypes: StringTypeConverter,
        StrictBoolean: BooleanTypeConverter,
        StrictSequence: ArrayTypeConverter,
        colander.Mapping: ClosedObjectConverter,
        KnownKeys: ClosedObjectConverter,
        Overrides: OverridesConverter,
    }
    parameters = OperationParameters


SECURITY_DEFINITIONS = {
    "bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A bearer token, sent as `Authorization: Bearer <token>`: from "
        "`backfeed token create` (admin, user or read, of one contract; or a service-wide "
        "admin, with `--service`) or from "
        "`POST /{contract}/auth` (a user token, until its `expires_at`).",
    }
}
ERROR = ref("Error")
UNAUTHORIZED = {
    "description": "No valid bearer token for this contract: none where one is needed, or "
    "one that is unknown, revoked, expired or of another contract.",
    "schema": ERROR,
    "headers": {
        "WWW-Authenticate": {"type": "string", "description": "`Bearer` challenge"},
        **RATE_LIMIT_HEADERS,
    },
}
FORBIDDEN = {
    "description": "The bearer token may not do this.",
    "schema": ERROR,
    "headers": RATE_LIMIT_HEADERS,
}


TOKEN_ONLY = frozenset({WRITE, ADMIN_ONLY, LOGOUT, SESSIONS, SERVICE})
"""The permissions no request without a bearer token has."""


def needs_token(permission: str | None, reads_are_public: bool) -> bool:
    """Whether an operation with ``permission`` always needs a bearer token."""
    return permission in TOKEN_ONLY or (permission == READ and not reads_are_public)


def document_security(document: dict, services: list[Service], reads_are_public: bool) -> None:
    """Declare the bearer token, and on each operation whether it needs one and its 401,
    403 and 429 answers, from the permission of its view."""
    document["securityDefinitions"] = SECURITY_DEFINITIONS
    for service in services:
        for method, _view, args in service.definitions:
            operation = document["paths"].get(service.path, {}).get(method.lower())
            if operation is None:
                continue
            permission = args.get("permission")
            responses = operation["responses"]
            if needs_token(permission, reads_are_public):
                operation["security"] = [{"bearer": []}]
            responses.setdefault("401", UNAUTHORIZED)  # logging in has its own
            if permission in TOKEN_ONLY:  # after what the operation's rules may refuse
                refusal = responses.get("403", {}).get("description")
                description = " ".join(filter(None, (FORBIDDEN["description"], refusal)))
                responses["403"] = {**FORBIDDEN, "description": description}


def path_parameter(name: str, contracts: list[str]) -> dict | None:
    """The precise definition of a path parameter of ours, or None to keep the generated one."""
    if name == "contract":
        return {
            "name": name,
            "in": "path",
            "required": True,
            "type": "string",
            "enum": contracts,
            "description": "a contract served here (GET / lists them)",
        }
    if name == "id":
        return {
            "name": name,
            "in": "path",
            "required": True,
            **ID,
            "description": "the object's id in this contract",
        }
    return None


IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "type": "string",
    "pattern": f"^{KEY_PATTERN.pattern}$",
    "description": "a retry with the same key and body is answered as the first request was",
}


IF_NONE_MATCH_PARAMETER = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "type": "string",
    "description": "the ETag of a representation the client holds: 304 if it is current",
}


def refine(document: dict, contracts: list[str], services: list[Service]) -> dict:
    """Precise path parameters, the Idempotency-Key header of POSTs, If-None-Match on GETs,
    and the responses declared by the views."""
    for item in document["paths"].values():
        parameters = item.get("parameters", [])
        item["parameters"] = [path_parameter(p["name"], contracts) or p for p in parameters]
        if "post" in item:
            item["post"].setdefault("parameters", []).append(dict(IDEMPOTENCY_PARAMETER))
        if "get" in item:
            item["get"].setdefault("parameters", []).append(dict(IF_NONE_MATCH_PARAMETER))
    return document_responses(document, routes(services))


def openapi_document(request) -> dict:
    """The Swagger 2.0 document of every service but this one, with its security."""
    from ... import __version__

    services = [s for s in get_services() if s.name != api_service.name]
    generator = ServiceSwagger(services, pyramid_registry=request.registry)
    document = generator.generate(title="backfeed-api", version=__version__)
    catalog = request.registry["contracts"]
    catalog.refresh(request.dbsession, request.now)
    contracts = [contract.name for contract in catalog]
    document = refine(document, contracts, services)
    document_security(document, services, PUBLIC_READS.read(request.registry.settings))
    return document


@api_service.get(
    permission=PUBLIC,
    response_schemas={"200": answer("The OpenAPI (Swagger 2.0) document of every route above.")},
)
def get_openapi(request) -> dict:
    """Serve the document."""
    return openapi_document(request)


def includeme(config: Configurator) -> None:
    """Register ``/__api__`` before the ``/{contract}`` route can shadow it, and
    cornice_swagger's view arguments (``response_schemas``) that every view declares."""
    config.include("cornice_swagger")
    config.scan(".")
