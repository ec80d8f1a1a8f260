"""Request validation: Cornice's colander validator fed with a strict reading of the body.

JSON bodies are parsed without the non-standard constants (``NaN``, ``Infinity``) and must be
objects; numbers too large for a float are refused. Form bodies and query strings go through
Cornice's usual extraction, where a repeated key becomes a list that the strict types refuse.
"""

from __future__ import annotations

import json
import math
import re

from cornice.validators import colander_validator, extract_cstruct

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


def parse_json_object(raw: bytes) -> dict:
    """Parse a JSON request body that must be an object; raise ValueError with a reason."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _Refused:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def strict_cstruct(request) -> dict:
    """The parts of the request to validate, with a strictly parsed JSON body."""
    if not (request.body and JSON_TYPE.fullmatch(request.content_type or "")):
        return extract_cstruct(request)
    try:
        body = parse_json_object(request.body)
    except ValueError as error:
        request.errors.add("body", "", str(error))
        body = {}
    return {
        "method": request.method,
        "url": request.url,
        "path": request.matchdict,
        "body": body,
        "querystring": request.GET.mixed(),
        "header": dict(request.headers),
        "cookies": dict(request.cookies),
    }


def validate(request, schema=None, **kwargs) -> None:
    """Validate the request against the view's schema into ``request.validated``."""
    colander_validator(request, schema=schema, deserializer=strict_cstruct, **kwargs)
