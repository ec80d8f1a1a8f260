"""Small helpers shared by the views."""

from __future__ import annotations

from pyramid.response import Response

from ...errors import NotFound
from ..schemas import INTEGER_TEXT, MAX_ID

JSON_AND_FORM = ("application/json", "application/x-www-form-urlencoded")


def path_id(request, name: str = "id") -> int:
    """The integer id in the URL; anything that is not an id of ours is a 404."""
    text = request.matchdict.get(name, "")
    if not INTEGER_TEXT.fullmatch(text) or not 0 <= int(text) <= MAX_ID:
        raise NotFound(f"no such {name}")
    return int(text)


def created(request, route: str, body: dict, **route_args) -> dict:
    """Answer 201 with a Location header pointing at the new object."""
    request.response.status_code = 201
    request.response.location = request.route_url(
        route, contract=request.contract.name, **route_args
    )
    return body


def query(request) -> dict:
    """The validated query string."""
    return request.validated["querystring"]


def body(request) -> dict:
    """The validated body."""
    return request.validated["body"]


def no_content() -> Response:
    """An empty 204."""
    response = Response(status=204)
    response.content_type = None
    return response


def is_dry_run(request) -> bool:
    """Whether the validated query asks for a dry run (``dry_run=true``). If it does, the
    request's transaction is doomed: nothing done in it can be committed, whatever the
    action that follows writes or not."""
    if not query(request).get("dry_run"):
        return False
    request.tm.doom()
    return True
