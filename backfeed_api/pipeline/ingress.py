"""What is refused before routing: bodies too large, a bad Content-Length, URLs not in UTF-8.

A body larger than ``backfeed.max_body_bytes`` (64 KiB by default) is answered with a 413
without being read. The check has to come before anything reads the body, and
``pyramid_retry`` copies it (to replay it on a retry) before the first tween runs; so the
request factory looks at the WSGI environment first:

- a declared ``Content-Length`` above the limit is refused at once, and one that is not a
  number of bytes is a 400;
- a body of unknown length (chunked, under a server that passes it on as such) is read up
  to the limit plus one byte, and refused if that byte is there; otherwise it is kept, and
  from then on it looks like a body with a ``Content-Length``.

A refused body is replaced by an empty one, so nothing downstream reads it, and the refusal
is noted in the environment; the first tween answers it in the JSON error shape. That tween
also refuses a path or a query string that is not UTF-8 once percent-decoded, which WebOb
would otherwise fail to decode wherever it is first read.

waitress (the development server) reads the whole request before the application sees it,
up to its own ``max_request_body_size``: keep that above this limit (``development.ini``
sets 1 MiB), so that waitress's plain-text refusal only meets bodies far beyond it.
gunicorn (``production.ini``) hands the body over unread, so this is the only limit there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from pyramid.config import Configurator
from pyramid.request import Request

from ..errors import error_response, status_code
from ..settings import MAX_BODY_BYTES

REFUSAL = "backfeed_api.refusal"  # the environ key: (status, code, location, name, description)
DIGITS = re.compile(r"[0-9]{1,19}")
CHUNK = 64 * 1024


def form_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of form-encoded ``raw`` (a body or a query string), decoded
    strictly as UTF-8, percent-escapes included; ValueError if they are not UTF-8."""
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ValueError("the body is not valid UTF-8") from None


def _refuse(environ: dict, status: int, name: str, description: str) -> None:
    """Note why the request is refused, and make its body empty so that nothing reads it."""
    location = "header" if name else "body"
    environ[REFUSAL] = (status, status_code(status), location, name, description)
    environ["wsgi.input"] = io.BytesIO()
    environ["CONTENT_LENGTH"] = "0"
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False


def _read_at_most(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, reading until it ends or ``limit`` is reached."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        part = stream.read(min(CHUNK, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _has_body_of_unknown_length(environ: Mapping[str, Any]) -> bool:
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding or bool(environ.get("wsgi.input_terminated"))


def screen_body(environ: dict, limit: int) -> None:
    """Refuse (see :data:`REFUSAL`) a body over ``limit`` bytes without reading more of it
    than ``limit + 1`` bytes, and a Content-Length that is not a number."""
    if REFUSAL in environ:
        return  # refused already (a request built again from the same environment)
    declared = environ.get("CONTENT_LENGTH", "").strip()
    if declared:
        if not DIGITS.fullmatch(declared):
            _refuse(environ, 400, "Content-Length", "must be a number of bytes")
        elif int(declared) > limit:
            _refuse(environ, 413, "", f"the body may be at most {limit} bytes")
        return
    if not _has_body_of_unknown_length(environ):
        return
    body = _read_at_most(environ["wsgi.input"], limit + 1)
    if len(body) > limit:
        _refuse(environ, 413, "", f"the body may be at most {limit} bytes")
        return
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def request_factory(limit: int) -> type[Request]:
    """A Pyramid request class that screens the body of each request before it is built."""

    class ScreenedRequest(Request):
        """A request whose body is at most ``limit`` bytes, or refused (see the module)."""

        def __init__(self, environ: dict, *args: Any, **kwargs: Any) -> None:
            screen_body(environ, limit)
            super().__init__(environ, *args, **kwargs)

    return ScreenedRequest


def _is_utf8(text: str) -> bool:
    """Whether a WSGI string (bytes as latin-1) is UTF-8."""
    try:
        text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def url_problem(environ: Mapping[str, Any]) -> tuple[str, str] | None:
    """(location, description) when the path or query string is not UTF-8, else None."""
    if not _is_utf8(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")):
        return "url", "the path is not valid UTF-8"
    try:
        form_pairs(environ.get("QUERY_STRING", "").encode("latin-1"))
    except ValueError:
        return "querystring", "the query string is not valid UTF-8"
    return None


def ingress_tween_factory(handler: Callable, registry) -> Callable:
    """The tween answering the requests refused on the way in, before any transaction."""

    def tween(request):
        refusal = request.environ.get(REFUSAL)
        if refusal is not None:
            return error_response(*refusal)
        problem = url_problem(request.environ)
        if problem is not None:
            location, description = problem
            return error_response(400, "invalid", location, "", description)
        return handler(request)

    return tween


def includeme(config: Configurator) -> None:
    """Install the screening request factory and the tween that answers refusals."""
    limit = MAX_BODY_BYTES.read(config.get_settings())
    config.set_request_factory(request_factory(limit))
    config.add_tween(
        "backfeed_api.pipeline.ingress.ingress_tween_factory", over="pyramid_tm.tm_tween_factory"
    )
