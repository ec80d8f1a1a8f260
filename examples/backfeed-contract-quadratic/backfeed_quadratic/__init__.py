"""A third-party contract kind for backfeed-api, installed as a plugin: ``quadratic``."""

from .contract import QuadraticContract

__all__ = ["QuadraticContract"]
