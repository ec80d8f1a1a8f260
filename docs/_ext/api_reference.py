"""The HTTP reference, generated from the Cornice services: ``.. backfeed-services::``.

cornice_sphinx 0.4 was written for flat schema *classes* whose nodes carry a ``location``
attribute. Our views pass schema *instances* whose ``body`` and ``querystring`` children hold
the fields, and its renderer cannot show a ``colander.drop`` default. The directive here
subclasses cornice_sphinx's own: it keeps its options (``:modules:``, ``:services:``,
``:service:``, ``:ignore:``), fixes how the fields of a schema are found, and renders each
route with its methods, parameters, responses and errors. It is also registered under
cornice_sphinx's name, ``cornice-autodoc``, so that directive gets the same fixes.

Usage::

    .. backfeed-services::
       :modules: backfeed_api.api.views, backfeed_api.api.openapi

``.. backfeed-error-codes::`` is the table of the error document's codes.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass

import colander
from cornice.service import Service, get_services
from cornice.util import to_list
from cornice_sphinx import ServiceDirective, format_docstring
from docutils import nodes
from pyramid.path import DottedNameResolver
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes

import backfeed_api.errors as errors_module

LOCATIONS = ("path", "header", "querystring", "body")
PATH_PARAMETER = re.compile(r"{(\w+)(?::[^}]*)?}")
ESCAPED = re.compile(r"([\\`*_|])")

PATH_PARAMETERS = {
    "contract": "The name of a contract served here (see ``GET /``); unknown names are a 404.",
    "id": "The integer id of an object of this contract; any other value is a 404.",
}

# Who may call a method, by the permission of its view (see backfeed_api/auth/policy.py).
ACCESS = {
    "public": "Anyone.",
    "read": "Anyone, unless ``backfeed.public_reads`` is false: then a bearer token of the "
    "contract, of any role.",
    "write": "A bearer token of the contract: ``admin``, or ``user`` acting as its own user.",
    "admin": "An ``admin`` bearer token of the contract.",
    "logout": "An ``admin`` or ``user`` bearer token of the contract, stored in the database "
    "(it revokes itself).",
    "sessions": "A ``user`` bearer token of the contract, for the login tokens of its own user.",
}
NO_PERMISSION = "Anyone; an ``Authorization`` header is ignored."

# Refusals the contract makes after the schema has accepted the request (400, body).
REFUSALS = {
    ("users", "POST"): "``referrer_id`` is not a user of this contract.",
    ("contributions", "POST"): (
        "``contributor_id`` is not a user of this contract, ``type`` is not one of its "
        "contribution types, or the contributor holds fewer tokens than the type's fee."
    ),
    ("evaluations", "POST"): (
        "``evaluator_id`` or ``contribution_id`` is not of this contract, or ``value`` is "
        "not in the evaluation set of the contribution's type."
    ),
}


@dataclass(frozen=True)
class Field:
    """One documented input of a request."""

    name: str
    type: str
    requirement: str
    description: str


def rst_text(text: str) -> str:
    """Plain text made safe to embed in reStructuredText."""
    return ESCAPED.sub(r"\\\1", " ".join(str(text).split()))


def as_schema(schema) -> colander.SchemaNode | None:
    """A schema instance from an instance, a class or a dotted name."""
    schema = DottedNameResolver(__name__).maybe_resolve(schema)
    if isinstance(schema, type):
        schema = schema()
    return schema if isinstance(schema, colander.SchemaNode) else None


def schema_children(schema, location: str) -> list[colander.SchemaNode]:
    """The fields of ``schema`` read from ``location``.

    A request schema with a child named after the location (``body``, ``querystring``...)
    contributes that child's fields; a flat schema contributes the nodes whose ``location``
    attribute names it, nodes without one counting as body fields.
    """
    schema = as_schema(schema)
    if schema is None:
        return []
    by_name = {child.name: child for child in schema.children}
    if any(name in by_name for name in (*LOCATIONS, "headers")):
        part = by_name.get(location) or (by_name.get("headers") if location == "header" else None)
        return list(part.children) if part is not None else []
    return [
        child
        for child in schema.children
        if getattr(child, "location", "body") in to_list(location)
    ]


def type_name(node: colander.SchemaNode) -> str:
    """A JSON type name for a field."""
    typ = node.typ
    if getattr(typ, "accepts_booleans", False):
        return "number (``true`` = 1, ``false`` = 0)"
    for base, name in (
        (colander.Boolean, "boolean"),
        (colander.Int, "integer"),
        (colander.Float, "number"),
        (colander.Decimal, "number"),
        (colander.String, "string"),
        (colander.Mapping, "object"),
        (colander.Sequence, "array"),
    ):
        if isinstance(typ, base):
            return name
    return type(typ).__name__


def requirement(node: colander.SchemaNode) -> str:
    """``required``, ``optional`` or the default value."""
    if node.missing is colander.required:
        return "required"
    if node.missing is colander.drop or node.missing is colander.null:
        return "optional"
    default = node.missing
    return f"default ``{default if isinstance(default, str) else json.dumps(default)}``"


def constraints(validator) -> list[str]:
    """What a colander validator allows, in words."""
    if validator is None:
        return []
    if isinstance(validator, colander.All):
        return [text for inner in validator.validators for text in constraints(inner)]
    if isinstance(validator, colander.OneOf):
        return ["one of " + ", ".join(f"``{choice}``" for choice in validator.choices)]
    if isinstance(validator, colander.Range):
        words = []
        if validator.min is not None:
            words.append(f"at least {validator.min}")
        if validator.max is not None and validator.max < 2**53:
            words.append(f"at most {validator.max}")
        return words
    if isinstance(validator, colander.Length):
        return [f"{validator.min or 0} to {validator.max} characters"] if validator.max else []
    return []


def describe(node: colander.SchemaNode) -> Field:
    """The documentation of one schema node."""
    described = rst_text(node.description or "").rstrip(".")
    parts = [described] + [
        constraint  # left out when the description already says it
        for constraint in constraints(node.validator)
        if constraint not in described
    ]
    text = "; ".join(part for part in parts if part)
    if text:
        text = text[0].upper() + text[1:] + "."
    return Field(node.name, type_name(node), requirement(node), text)


def field_table(title: str, fields: Iterable[Field]) -> list[str]:
    """A list-table of fields."""
    lines = [
        f".. list-table:: {title}",
        "   :header-rows: 1",
        "   :widths: 20 20 20 40",
        "",
        "   * - name",
        "     - type",
        "     - required / default",
        "     - meaning",
    ]
    for field in fields:
        lines += [
            f"   * - ``{field.name}``",
            f"     - {field.type}",
            f"     - {field.requirement}",
            f"     - {field.description or '-'}",
        ]
    return [*lines, ""]


def responses(args: dict) -> list[tuple[str, str]]:
    """Success statuses and what they carry, from the view's ``response_schemas``."""
    found = []
    for status, node in args["response_schemas"].items():
        if not status.startswith("2"):
            continue
        text = rst_text(node.description)
        if "Location" in node.headers:
            text += " ``Location`` is its URL."
        if status == "204":
            text += " No body."
        found.append((status, text))
    return found


def errors(service: Service, method: str, args: dict) -> list[tuple[str, str]]:
    """The error statuses a method can answer, with their causes."""
    found = []
    names = PATH_PARAMETER.findall(service.path)
    if args.get("schema") is not None:
        causes = "an unknown query parameter or body field, a value of the wrong type"
        causes += " or out of range"
        body = schema_children(args["schema"], "body")
        if any(child.missing is colander.required for child in body):
            causes += ", a required field left out"
        refusal = REFUSALS.get((service.name, method))
        found.append(("400", f"Validation: {causes}." + (f" Also: {refusal}" if refusal else "")))
    if names:
        what = [
            text
            for name, text in (
                ("contract", "an unknown contract"),
                ("id", "an id that is not an object of this contract"),
            )
            if name in names
        ]
        sentence = " or ".join(what) or "nothing found at this address"
        found.append(("404", sentence[0].upper() + sentence[1:] + "."))
    if args.get("content_type"):
        types = " or ".join(f"``{t}``" for t in to_list(args["content_type"]))
        found.append(("415", f"A body whose content type is not {types}."))
    permission = args.get("permission")
    if permission in ACCESS:
        found.append(
            (
                "401",
                "No valid bearer token for this contract: none where one is needed, or one "
                "that is unknown, revoked, expired or of another contract (with "
                "``WWW-Authenticate: Bearer``).",
            )
        )
    else:
        found.append(("401", "A wrong username or password: one answer for both."))
        found.append(("429", "Too many failed logins; ``Retry-After`` says how long to wait."))
    if permission in FORBIDDEN:
        found.append(("403", "The token may not do this: " + FORBIDDEN[permission]))
    return found


FORBIDDEN = {
    "write": "a ``read`` token, or a ``user`` token naming another user than its own.",
    "admin": "a ``read`` or ``user`` token.",
    "logout": "a ``read`` token, or the development token of the settings.",
    "sessions": "any token but a ``user`` token (an ``admin`` or ``read`` token has no user).",
}


def access(args: dict) -> str:
    """Who may call a method, from its view's permission."""
    return ACCESS.get(args.get("permission"), NO_PERMISSION)


def status_list(items: list[tuple[str, str]]) -> list[str]:
    """A bullet list of ``status``: meaning."""
    return [f"- **{status}** -- {text}" for status, text in items] + [""]


class BackfeedServicesDirective(ServiceDirective):
    """cornice_sphinx's directive, fixed for schema instances and per-location schemas."""

    _get_attributes = staticmethod(schema_children)

    def run(self) -> list[nodes.Node]:
        for module in self.options.get("modules", []):
            self._import_tree(module)
        names = list(self.options.get("services", []))
        if self.options.get("service"):
            names.append(self.options["service"])
        ignored = set(self.options.get("ignore", []))
        # Unlike cornice_sphinx, leave the service registry alone: the application (and
        # its OpenAPI document, which the examples build) reads it too.
        services = [
            service for service in get_services(names=names or None) if service.name not in ignored
        ]
        return [self._render_service(s) for s in sorted(services, key=lambda s: s.path)]

    def _import_tree(self, dotted: str) -> None:
        """Import a module and, for a package, every module in it (views register there)."""
        modules = [importlib.import_module(dotted)]
        for info in pkgutil.walk_packages(getattr(modules[0], "__path__", []), dotted + "."):
            modules.append(importlib.import_module(info.name))
        for module in modules:  # re-read the page when a view changes
            if getattr(module, "__file__", None):
                self.env.note_dependency(module.__file__)

    def _parse(self, lines: list[str], source: str) -> list[nodes.Node]:
        return nested_parse_to_nodes(
            self.state, "\n".join(lines), source=source, allow_section_headings=False
        )

    def _section(self, key: str, title: str) -> nodes.section:
        section = nodes.section(ids=[nodes.make_id(key)], names=[nodes.fully_normalize_name(key)])
        section += nodes.title(text=title)
        self.state.document.note_implicit_target(section, section)
        return section

    def _render_service(self, service: Service) -> nodes.section:
        section = self._section(f"route {service.path}", service.path)
        intro = []
        if service.description:
            intro += [rst_text(service.description), ""]
        names = PATH_PARAMETER.findall(service.path)
        if names:
            intro += ["Path parameters:", ""]
            intro += [f"- ``{{{name}}}`` -- {PATH_PARAMETERS.get(name, '')}" for name in names]
            intro.append("")
        if intro:
            section += self._parse(intro, f"<service {service.name}>")
        for method, view, args in service.definitions:
            if method == "HEAD":  # the same as GET without a body
                continue
            section += self._render_method(service, method, view, args)
        return section

    def _render_method(self, service: Service, method: str, view, args: dict) -> nodes.section:
        section = self._section(f"{method} {service.path}", f"{method} {service.path}")
        lines = [format_docstring(view) if not isinstance(view, str) else "", ""]
        schema = args.get("schema")
        query = [describe(node) for node in schema_children(schema, "querystring")]
        body = [describe(node) for node in schema_children(schema, "body")]
        if query:
            lines += field_table("Query parameters", query)
        elif schema is not None:
            lines += ["No query parameter is accepted.", ""]
        if body:
            lines += field_table("Body fields", body)
            if args.get("content_type"):
                types = " or ".join(f"``{t}``" for t in to_list(args["content_type"]))
                lines += [f"The body is sent as {types}.", ""]
        lines += [f"Access: {access(args)}", ""]
        lines += ["Responses:", "", *status_list(responses(args))]
        failures = errors(service, method, args)
        if failures:
            lines += ["Errors (in the error format below):", "", *status_list(failures)]
        section += self._parse(lines, f"<{method} {service.path}>")
        return section


class ErrorCodesDirective(SphinxDirective):
    """``.. backfeed-error-codes::``: the table of every error ``code``, from
    :data:`backfeed_api.errors.CODES`."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(errors_module.__file__)
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 25 10 65",
            "",
            "   * - code",
            "     - status",
            "     - meaning",
        ]
        for code, meaning in errors_module.CODES.items():
            lines += [
                f"   * - ``{code}``",
                f"     - {meaning.status}",
                f"     - {meaning.meaning}",
            ]
        return nested_parse_to_nodes(self.state, "\n".join(lines), source="<error codes>")


def setup(app: Sphinx) -> dict:
    """Register the directives, and the fixed one under cornice_sphinx's name."""
    app.setup_extension("cornice_sphinx")
    app.add_directive("backfeed-services", BackfeedServicesDirective)
    app.add_directive("backfeed-error-codes", ErrorCodesDirective)
    app.add_directive("cornice-autodoc", BackfeedServicesDirective, override=True)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
