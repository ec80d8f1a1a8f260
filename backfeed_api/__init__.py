"""backfeed-api: a JSON web service for reputation-and-token economies."""

from __future__ import annotations

import json
from functools import partial
from importlib.metadata import PackageNotFoundError, version

from cornice.renderer import CorniceRenderer
from pyramid.config import Configurator
from pyramid.renderers import JSON

try:
    __version__ = version("backfeed-api")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def includeme(config: Configurator) -> None:
    """Wire the whole service into ``config``."""
    strict = partial(json.dumps, allow_nan=False)
    config.include("cornice")
    config.commit()  # our JSON error views below replace Cornice's own handlers
    config.add_renderer("json", JSON(serializer=strict))
    config.add_renderer("cornicejson", CorniceRenderer(serializer=strict))
    config.include(".clock")
    config.include(".models")
    config.include(".catalog")
    config.include(".idempotency")
    config.include(".openapi")
    config.include(".views")


def main(global_config, **settings):
    """The WSGI application (``paste.app_factory``)."""
    with Configurator(settings=settings) as config:
        config.include(includeme)
        return config.make_wsgi_app()
