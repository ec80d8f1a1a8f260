"""What a view answers, declared on the view itself as Cornice's ``response_schemas``.

Each view passes ``response_schemas={status: node}``: an :func:`answer` for each response
it gives (its success, and an error only it gives, such as the 401 of a wrong password),
and a :func:`refusal` for a status that every write may answer and that the rules of this
route can answer for a further reason. ``/__api__`` (:mod:`.openapi`) and the API
reference are made from these declarations, so a route documents its responses where it is
written. The bodies are named by their definition in :mod:`.openapi.responses`.
"""

from __future__ import annotations

import importlib
import pkgutil

import colander
from cornice.service import Service, get_services


def answer(
    description: str,
    definition: str | None = None,
    headers: tuple[str, ...] = (),
    media_type: str | None = None,
) -> colander.SchemaNode:
    """A response of the view: what it means, the definition of its body (None: none to
    document), the headers it sets besides the ones every response has, and the media type
    of a body that is not JSON (a CSV, an image)."""
    return colander.MappingSchema(
        description=description,
        definition=definition,
        headers=headers,
        refusal=False,
        media_type=media_type,
    )


def refusal(description: str) -> colander.SchemaNode:
    """A further reason for an error status: the sentence added to what that status says
    on every operation."""
    return colander.MappingSchema(
        description=description, definition="Error", headers=(), refusal=True
    )


def services() -> list[Service]:
    """Every Cornice service of the application, ``/__api__`` included; importing the view
    modules registers them."""
    from . import openapi, views

    for info in pkgutil.walk_packages(views.__path__, f"{views.__name__}."):
        importlib.import_module(info.name)
    importlib.import_module(openapi.__name__)
    return get_services()


def routes(service_list: list[Service]) -> list[tuple[Service, str, dict]]:
    """(service, method, view arguments) of every route, HEAD left out: it answers as GET."""
    return [
        (service, method, args)
        for service in service_list
        for method, _view, args in service.definitions
        if method != "HEAD"
    ]
