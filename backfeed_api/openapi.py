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

from .schemas import StrictInteger, StrictNumber, StrictString, VoteValue

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


def openapi_document(request) -> dict:
    """The Swagger 2.0 document of every service but this one."""
    from . import __version__

    services = [s for s in get_services() if s.name != api_service.name]
    generator = ServiceSwagger(services, pyramid_registry=request.registry)
    return generator.generate(title="backfeed-api", version=__version__)


@api_service.get()
def get_openapi(request) -> dict:
    """Serve the document."""
    return openapi_document(request)


def includeme(config: Configurator) -> None:
    """Register ``/__api__`` before the ``/{contract}`` route can shadow it."""
    config.scan(".openapi")
