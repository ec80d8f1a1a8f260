"""Wiring the service: renderers, subsystems and views, each set up by its ``includeme``."""

from __future__ import annotations

import json
from functools import partial

from pyramid.config import Configurator
from pyramid.renderers import JSON

from .api.views.errors import ErrorRenderer


def includeme(config: Configurator) -> None:
    """Wire the whole service into ``config``."""
    strict = partial(json.dumps, allow_nan=False)
    config.include(".settings")
    config.include("cornice")
    config.commit()  # our JSON error views below replace Cornice's own handlers
    config.add_renderer("json", JSON(serializer=strict))
    config.add_renderer("cornicejson", ErrorRenderer(serializer=strict))
    config.include(".pipeline.ingress")
    config.include(".pipeline.urls")
    config.include(".pipeline.headers")
    config.include(".pipeline.cors")
    config.include(".clock")
    config.include(".execution")
    config.include(".pipeline.addresses")
    config.include(".models")
    config.include(".domain.catalog")
    config.include(".worker")
    config.include(".api.demo")
    config.include(".auth.policy")
    config.include(".pipeline.ratelimits")
    config.include(".pipeline.idempotency")
    config.include(".pipeline.conditional")
    config.include(".api.openapi")
    config.include(".api.dashboard")
    config.include(".api.views")


def make_app(settings: dict):
    """The WSGI application for ``settings``."""
    with Configurator(settings=settings) as config:
        config.include(includeme)
        return config.make_wsgi_app()
