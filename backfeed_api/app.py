"""Wiring the service: renderers, subsystems and views, each set up by its ``includeme``."""

from __future__ import annotations

import json
from functools import partial

from cornice.renderer import CorniceRenderer
from pyramid.config import Configurator
from pyramid.renderers import JSON


def includeme(config: Configurator) -> None:
    """Wire the whole service into ``config``."""
    strict = partial(json.dumps, allow_nan=False)
    config.include("cornice")
    config.commit()  # our JSON error views below replace Cornice's own handlers
    config.add_renderer("json", JSON(serializer=strict))
    config.add_renderer("cornicejson", CorniceRenderer(serializer=strict))
    config.include(".ingress")
    config.include(".urls")
    config.include(".headers")
    config.include(".cors")
    config.include(".clock")
    config.include(".execution")
    config.include(".addresses")
    config.include(".models")
    config.include(".catalog")
    config.include(".security")
    config.include(".ratelimits")
    config.include(".idempotency")
    config.include(".openapi")
    config.include(".views")


def make_app(settings: dict):
    """The WSGI application for ``settings``."""
    with Configurator(settings=settings) as config:
        config.include(includeme)
        return config.make_wsgi_app()
