"""Request validation: Cornice's colander validator fed with a strict reading of the request.

A body must say what it is: JSON or form-encoded, in UTF-8 (a ``charset`` other than UTF-8
is a 415, a body without a Content-Type too). JSON bodies are parsed without the
non-standard constants (``NaN``, ``Infinity``) and must be objects; numbers too large for a
float, repeated keys and nesting too deep for the parser are refused. Form bodies and query
strings are decoded strictly as UTF-8 (no bytes silently replaced); a repeated key becomes a
list that the strict types refuse, and their values are marked as
:class:`~backfeed_api.api.schemas.Text`, the only strings that the numeric types read as numbers.
"""

from __future__ import annotations

import json
import math
import re

from cornice.validators import colander_validator
from webob.multidict import MultiDict

from ..pipeline.ingress import form_pairs
from .schemas import Text

JSON_TYPE = re.compile(r"application/(.+\+)?json")
FORM_TYPE = "application/x-www-form-urlencoded"


class _Refused(ValueError):
    """A JSON text we do not accept, with the reason."""


def _refuse_constant(name: str):
    raise _Refused(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"{text} is too large for a number")
    return number


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """An object whose keys are all different: a repeated key is refused, as in a form,
    rather than letting the last one silently win."""
    data = dict(pairs)
    if len(data) != len(pairs):
        repeated = sorted({key for key, _ in pairs if sum(k == key for k, _ in pairs) > 1})
        raise _Refused(f"repeated key in a JSON object: {', '.join(repeated)}")
    return data


def parse_json_object(raw: bytes) -> dict:
    """Parse a JSON request body that must be an object; raise ValueError with a reason.

    The text must be UTF-8 (RFC 8259): other encodings that ``json.loads`` would guess from
    the bytes, and a byte order mark, are refused.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the body is not valid UTF-8") from None
    try:
        data = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except _Refused:
        raise
    except RecursionError:
        raise ValueError("Invalid JSON: nested too deeply") from None
    except ValueError as error:
        raise ValueError(f"Invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def parse_form(raw: bytes) -> dict[str, str | list[str]]:
    """Parse a form-encoded body strictly: UTF-8 only, a repeated key as a list of values.

    Raise ValueError with a reason. (WebOb would replace undecodable bytes silently.)
    """
    return MultiDict(form_pairs(raw)).mixed()


def as_text(values: dict) -> dict:
    """Mark the strings (and lists of strings, from repeated keys) of a query string or form
    body as text."""

    def mark(value):
        if isinstance(value, str):
            return Text(value)
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value

    return {name: mark(value) for name, value in values.items()}


def _unsupported(request, description: str) -> dict:
    """Record a 415 on the Content-Type header; the body is then treated as empty."""
    request.errors.add("header", "Content-Type", description, code="unsupported_media_type")
    request.errors.status = 415
    return {}


def read_body(request) -> dict:
    """The body as a mapping (empty when there is none), or ``{}`` with the error recorded.

    Cornice has already refused a POST whose media type is not one the service consumes;
    this also covers bodies sent with a GET, without any Content-Type, or in another charset.
    """
    raw = request.body
    if not raw:
        return {}
    media = request.content_type or ""
    if request.charset != "UTF-8":  # WebOb's name for a charset left out or any UTF-8 spelling
        return _unsupported(request, f"the body must be UTF-8, not {request.charset!r}")
    try:
        if JSON_TYPE.fullmatch(media):
            return parse_json_object(raw)
        if media == FORM_TYPE:
            return as_text(parse_form(raw))
    except ValueError as error:
        request.errors.add("body", "", str(error), code="invalid")
        return {}
    if not media:
        return _unsupported(request, "a body needs a Content-Type: application/json")
    return _unsupported(request, f"{media} bodies are not accepted; send application/json")


def strict_cstruct(request) -> dict:
    """The parts of the request to validate: the body read strictly, the query string.

    The query string is known to be UTF-8 here: :mod:`backfeed_api.pipeline.ingress` refuses the
    others before routing.
    """
    return {
        "method": request.method,
        "url": request.url,
        "path": request.matchdict,
        "body": read_body(request),
        "querystring": as_text(request.GET.mixed()),
        "header": dict(request.headers),
    }


def validate(request, schema=None, **kwargs) -> None:
    """Validate the request against the view's schema into ``request.validated``."""
    colander_validator(request, schema=schema, deserializer=strict_cstruct, **kwargs)
