"""Pages of a list: the id window of the query string, and the links to the pages around.

Every page carries the absolute URLs of the next and the previous page in ``_meta.next``
and ``_meta.prev`` (absent at either end), and the same in a ``Link`` header (RFC 8288):
the request's own query string with ``start`` moved by ``limit``, so that the filters, the
order and the id window stay as they were. They are built on ``request.route_url``, and so
on ``backfeed.public_url`` when it is set.
"""

from __future__ import annotations

from ..domain.listing import IdWindow
from .presenters import collection


def id_window(query: dict) -> IdWindow:
    """The exclusive id bounds ``since_id`` and ``max_id`` of a validated query string."""
    return IdWindow(query.get("since_id"), query.get("max_id"))


def page_links(request, start: int, limit: int, total: int) -> dict[str, str]:
    """The URLs of the next and previous pages (``next``, ``prev``), where there are any."""
    kept = [(name, value) for name, value in request.GET.items() if name != "start"]
    starts = {}
    if start + limit < total:
        starts["next"] = start + limit
    if start > 0:
        starts["prev"] = max(0, min(start, total) - limit)
    route = request.matched_route.name
    return {
        rel: request.route_url(route, **request.matchdict, _query=[*kept, ("start", str(at))])
        for rel, at in starts.items()
    }


def link_header(links: dict[str, str]) -> str:
    """The ``Link`` header of ``links`` (rel → URL)."""
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())


def page(request, items: list[dict], total: int, query: dict) -> dict:
    """The collection of one page of ``items`` out of ``total``, with its links in
    ``_meta`` and in the ``Link`` header."""
    start, limit = query["start"], query["limit"]
    links = page_links(request, start, limit, total)
    if links:
        request.response.headers["Link"] = link_header(links)
    return collection(items, total, limit, start, links)
