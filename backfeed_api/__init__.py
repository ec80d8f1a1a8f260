"""backfeed-api: a JSON web service for reputation-and-token economies.

The web framework is imported only when the application is built, so that the ``backfeed``
command line and the simulator start quickly.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backfeed-api")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def main(global_config, **settings):
    """The WSGI application (the ``paste.app_factory`` entry point)."""
    from .app import make_app

    return make_app(settings)


def includeme(config) -> None:
    """Let another Pyramid application include the whole service."""
    from .app import includeme as wire

    wire(config)
