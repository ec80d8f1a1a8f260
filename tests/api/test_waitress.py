"""Oversized and chunked bodies through a real waitress server, configured as
``development.ini`` and ``backfeed serve`` configure it: what a client on the network gets,
not what WebTest sends. (gunicorn, which serves ``production.ini``:
``tests/concurrency/test_production_http.py``.)"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from webtest import TestApp

from backfeed_api.settings import DEFAULT_MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES

from .. import waitress_server
from ..conftest import ADMIN_TOKEN

TIMEOUT = 30


@contextmanager
def serving(wsgi, **options: object) -> Iterator[int]:
    """``wsgi`` served by waitress as ``development.ini`` configures it (``options``: more
    of waitress's settings, its proxy settings for instance), for the block; its port."""
    with waitress_server.serving(
        wsgi, threads=2, max_request_body_size=SERVER_MAX_BODY_BYTES, **options
    ) as server:
        yield server.effective_port


@pytest.fixture
def port(app: TestApp) -> Iterator[int]:
    """The port of a waitress server running the test application."""
    with serving(app.app) as number:
        yield number


@dataclass(frozen=True)
class Answer:
    """What the server answered."""

    status: int
    content_type: str
    nosniff: str | None
    body: bytes


def send(port: int, body: bytes, *, chunked: bool = False) -> Answer:
    """POST ``body`` to ``/example/users`` as JSON, whole or in chunks of 8 KiB."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
    if chunked:
        parts = (body[i : i + 8192] for i in range(0, len(body), 8192))
        connection.request("POST", "/example/users", parts, headers, encode_chunked=True)
    else:
        connection.request("POST", "/example/users", body, headers)
    response = connection.getresponse()
    answer = Answer(
        response.status,
        response.getheader("Content-Type", ""),
        response.getheader("X-Content-Type-Options"),
        response.read(),
    )
    connection.close()
    return answer


def padded(size: int) -> bytes:
    """A JSON object of ``size`` bytes."""
    head = b'{"reputation": 1, "x": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_gets_the_json_413(port: int, chunked: bool) -> None:
    answer = send(port, padded(100 * 1024), chunked=chunked)
    assert answer.status == 413
    assert answer.content_type == "application/json"
    assert answer.nosniff == "nosniff"
    body = json.loads(answer.body)
    assert body["status"] == "error"
    assert str(DEFAULT_MAX_BODY_BYTES) in body["errors"][0]["description"]


def test_a_chunked_body_within_the_limit_is_accepted(port: int) -> None:
    answer = send(port, b'{"reputation": 3}', chunked=True)
    assert answer.status == 201
    assert json.loads(answer.body)["reputation"] == 3


def test_far_beyond_the_limit_waitress_refuses_by_itself(port: int) -> None:
    """Above waitress's own limit the application is never called (documented): waitress
    answers on the declared Content-Length alone, before the body is sent."""
    head = (
        "POST /example/users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {SERVER_MAX_BODY_BYTES + 1}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
        connection.sendall(head.encode())
        answer = connection.makefile("rb").read()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413"
    assert b"Content-Type: text/plain" in rest


POST_HEAD = "POST /example/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
BEFORE_THE_APPLICATION = {
    "request-line": ("GARBAGE\r\n\r\n", 400),
    "method": ("G@T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    "header-without-colon": ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColon\r\n\r\n", 400),
    "space-before-colon": ("GET / HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n", 400),
    "nul-in-header": ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n", 400),
    "two-content-lengths": (POST_HEAD + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "negative-content-length": (POST_HEAD + "Content-Length: -1\r\n\r\n", 400),
    "chunk-size": (POST_HEAD + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
    "chunked-identity": (POST_HEAD + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501),
    "gzip-transfer": (POST_HEAD + "Transfer-Encoding: gzip\r\n\r\n", 501),
    "headers-over-256-kib": (f"GET / HTTP/1.1\r\nX-Big: {'a' * 262144}\r\n\r\n", 431),
}


@pytest.mark.parametrize("case", list(BEFORE_THE_APPLICATION))
def test_waitress_answers_these_itself_in_plain_text(port: int, case: str) -> None:
    """What docs/security.rst lists as waitress's own answers, before the application sees
    the request: plain text, which the proxy in front may replace."""
    raw, status = BEFORE_THE_APPLICATION[case]
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
        connection.sendall(raw.encode("latin-1"))
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # waitress closes on what is left
            while chunk := connection.recv(65536):
                answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == str(status).encode(), answer[:200]
    assert b"Content-Type: text/plain" in rest
    assert b"(generated by waitress)" in rest
