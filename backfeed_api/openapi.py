"""``GET /__api__``: the OpenAPI (Swagger 2.0) document generated from the Cornice services."""

from __future__ import annotations

import colander
from cornice import Service
from cornice.service import get_services
from cornice_swagger import CorniceSwagger
from cornice_swagger.converters.schema import (
    IntegerTypeConverter,
    NumberTypeConverter,
    ObjectTypeConverter,
    StringTypeConverter,
)
from cornice_swagger.swagger import ParameterHandler
from pyramid.config import Configurator
from pyramid.security import NO_PERMISSION_REQUIRED

from .schemas import StrictInteger, StrictNumber, StrictString, VoteValue
from .security import ADMIN_ONLY, LOGOUT, PUBLIC, READ, WRITE
from .settings import public_reads

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
        colander.Mapping: ClosedObjectConverter,
    }
    parameters = OperationParameters


SECURITY_DEFINITIONS = {
    "bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A bearer token, sent as `Authorization: Bearer <token>`: from "
        "`backfeed token create` (admin, user or read, of one contract) or from "
        "`POST /{contract}/auth` (a user token).",
    }
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["status", "errors"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "name", "description"],
                "properties": {
                    "location": {"type": "string"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
    },
}
ERROR = {"$ref": "#/definitions/Error"}
UNAUTHORIZED = {
    "description": "No valid bearer token for this contract: none where one is needed, or "
    "one that is unknown, revoked or of another contract.",
    "schema": ERROR,
    "headers": {"WWW-Authenticate": {"type": "string", "description": "`Bearer` challenge"}},
}
FORBIDDEN = {"description": "The bearer token may not do this.", "schema": ERROR}


def needs_token(permission: str | None, reads_are_public: bool) -> bool:
    """Whether an operation with ``permission`` always needs a bearer token."""
    return permission in (WRITE, ADMIN_ONLY, LOGOUT) or (
        permission == READ and not reads_are_public
    )


def document_security(document: dict, services: list[Service], reads_are_public: bool) -> None:
    """Declare the bearer token, and on each operation whether it needs one and its 401,
    403 and 429 answers, from the permission of its view."""
    document["securityDefinitions"] = SECURITY_DEFINITIONS
    document.setdefault("definitions", {})["Error"] = ERROR_SCHEMA
    for service in services:
        for method, _view, args in service.definitions:
            operation = document["paths"].get(service.path, {}).get(method.lower())
            if operation is None:
                continue
            permission = args.get("permission")
            responses = operation["responses"]
            if needs_token(permission, reads_are_public):
                operation["security"] = [{"bearer": []}]
            if permission == NO_PERMISSION_REQUIRED:  # logging in
                responses["401"] = {"description": "Wrong username or password.", "schema": ERROR}
                responses["429"] = {
                    "description": "Too many failed logins; wait `Retry-After` seconds.",
                    "schema": ERROR,
                    "headers": {"Retry-After": {"type": "integer"}},
                }
            else:
                responses["401"] = UNAUTHORIZED
            if permission in (WRITE, ADMIN_ONLY, LOGOUT):
                responses["403"] = FORBIDDEN


def openapi_document(request) -> dict:
    """The Swagger 2.0 document of every service but this one, with its security."""
    from . import __version__

    services = [s for s in get_services() if s.name != api_service.name]
    generator = ServiceSwagger(services, pyramid_registry=request.registry)
    document = generator.generate(title="backfeed-api", version=__version__)
    document_security(document, services, public_reads(request.registry.settings))
    return document


@api_service.get(permission=PUBLIC)
def get_openapi(request) -> dict:
    """Serve the document."""
    return openapi_document(request)


def includeme(config: Configurator) -> None:
    """Register ``/__api__`` before the ``/{contract}`` route can shadow it."""
    config.scan(".openapi")
