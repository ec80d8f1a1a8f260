"""One error document for every refusal: ``{"status": "error", "errors": [...]}``.

Cornice's shape, built here only: by the exception views (:mod:`.api.views.errors`),
by the tweens that answer before any view is reached (:mod:`.pipeline`) and by the
views that refuse in their own words.
"""

from __future__ import annotations

import json

from pyramid.response import Response


def error_body(location: str, name: str, description: str) -> dict:
    """The error document with a single error."""
    return {
        "status": "error",
        "errors": [{"location": location, "name": name, "description": description}],
    }


def failed_items_body(items: str, failed: dict[int, list[dict]], size: int) -> dict:
    """The error document of a list refused whole for some of its items (a batch):
    ``failed`` maps an item's index in the body's list ``items`` to its errors, listed in
    ``failed`` beside the usual ``errors``."""
    summary = f"{len(failed)} of the {size} items of {items} were refused, so none was applied"
    return {
        **error_body("body", items, summary),
        "failed": [{"index": index, "errors": failed[index]} for index in sorted(failed)],
    }


def error_response(status: int, location: str, name: str, description: str) -> Response:
    """A complete error response, for the tweens that answer before any view is reached
    (a body too large, a URL that is not UTF-8, a refused ``Idempotency-Key``)."""
    body = json.dumps(error_body(location, name, description), allow_nan=False)
    return Response(status=status, content_type="application/json", body=body.encode())
