"""The HTTP layer: thin Cornice views over the domain layer, and the error views."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Register the services and the JSON error views."""
    config.scan(".")
