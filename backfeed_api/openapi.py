"""``GET /__api__``: the OpenAPI (Swagger 2.0) document generated from the Cornice services."""

from __future__ import annotations

from cornice import Service
from cornice.service import get_services
from cornice_swagger import CorniceSwagger
from cornice_swagger.converters.schema import (
    BooleanTypeConverter,
    IntegerTypeConverter,
    NumberTypeConverter,
    StringTypeConverter,
)
from pyramid.config import Configurator

from .schemas import StrictInteger, StrictNumber, StrictString, VoteValue

api_service = Service(
    name="openapi", path="/__api__", description="The OpenAPI document of this service."
)

CONVERTERS = {
    StrictInteger: IntegerTypeConverter,
    StrictNumber: NumberTypeConverter,
    VoteValue: NumberTypeConverter,
    StrictString: StringTypeConverter,
}


def openapi_document(request) -> dict:
    """The Swagger 2.0 document of every service but this one."""
    from . import __version__

    services = [s for s in get_services() if s.name != api_service.name]
    generator = CorniceSwagger(services, pyramid_registry=request.registry)
    generator.custom_type_converters = {**CONVERTERS, bool: BooleanTypeConverter}
    return generator.generate(title="backfeed-api", version=__version__)


@api_service.get()
def get_openapi(request) -> dict:
    """Serve the document."""
    return openapi_document(request)


def includeme(config: Configurator) -> None:
    """Register ``/__api__`` before the ``/{contract}`` route can shadow it."""
    config.scan(".openapi")
