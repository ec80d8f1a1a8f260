"""The dashboard: HTML pages of a contract for the people who run its community.

The pages are Jinja2 templates rendered by the application with what a page needs to find
its data (the contract's URL, whether reads need a token); a little plain JavaScript
(``static/dashboard.js``) then reads the API, as any client does, draws the charts as SVG
and reads again every few seconds. Its assets are served by the application itself, with a
long cache lifetime and the package version in their URLs, and the pages' Content Security
Policy allows nothing but them and the API of the same origin.
"""

from __future__ import annotations

from pyramid.config import Configurator

from ... import __version__
from ...auth.policy import PUBLIC

ASSETS = "_dashboard"
ASSET_MAX_AGE = 7 * 24 * 3600
POLL_SECONDS = 3
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def asset_url(request, name: str) -> str:
    """The URL of one of the dashboard's assets, changing with each release."""
    spec = f"backfeed_api.api.dashboard:static/{name}"
    return request.static_url(spec, _query={"v": __version__})


def includeme(config: Configurator) -> None:
    """The template renderer and the assets."""
    config.include("pyramid_jinja2")
    config.add_static_view(
        ASSETS,
        "backfeed_api.api.dashboard:static",
        cache_max_age=ASSET_MAX_AGE,
        permission=PUBLIC,
    )
