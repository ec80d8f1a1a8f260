"""Request validation: Cornice's colander validator fed with a strict reading of the body.

JSON bodies are parsed without the non-standard constants (``NaN``, ``Infinity``) and must be
objects; numbers too large for a float and repeated keys are refused. Form bodies and query
strings go through Cornice's usual extraction, where a repeated key becomes a list that the
strict types refuse; their values are marked as :class:`~backfeed_api.schemas.Text`, the only
strings that the numeric types read as numbers.
"""

from __future__ import annotations

import json
import math
import re

from cornice.validators import colander_validator, extract_cstruct

from .schemas import Text

JSON_TYPE = re.compile(r"application/(.+\+)?json")


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
    """Parse a JSON request body that must be an object; raise ValueError with a reason."""
    try:
        data = json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except _Refused:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


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


def strict_cstruct(request) -> dict:
    """The parts of the request to validate, with a strictly parsed JSON body."""
    if request.body and JSON_TYPE.fullmatch(request.content_type or ""):
        try:
            body = parse_json_object(request.body)
        except ValueError as error:
            request.errors.add("body", "", str(error))
            body = {}
        cstruct = {
            "method": request.method,
            "url": request.url,
            "path": request.matchdict,
            "body": body,
            "querystring": request.GET.mixed(),
            "header": dict(request.headers),
            "cookies": dict(request.cookies),
        }
    else:
        cstruct = extract_cstruct(request)
        if not cstruct:  # Cornice found the body unreadable and has said why
            return cstruct
        if isinstance(cstruct["body"], dict):  # a form
            cstruct["body"] = as_text(cstruct["body"])
    cstruct["querystring"] = as_text(cstruct["querystring"])
    return cstruct


def validate(request, schema=None, **kwargs) -> None:
    """Validate the request against the view's schema into ``request.validated``."""
    colander_validator(request, schema=schema, deserializer=strict_cstruct, **kwargs)
