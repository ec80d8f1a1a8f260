"""What a client on the network gets from the server as ``production.ini`` runs it (gunicorn,
behind the proxy filter): oversized bodies refused in the application's JSON whatever their
size, however they are sent, and the reverse proxy's headers believed from it alone."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from backfeed_api.settings import DEFAULT_MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES

from .servers import ADMIN_TOKEN, HOST, Server

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

TIMEOUT = 30.0
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def server(servers) -> Server:
    (started,) = servers(1, workers=1, threads=2)
    return started


def post_user(
    server: Server, body: bytes, *, chunked: bool = False, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    """POST ``body`` to ``/example/users``, whole or in chunks of 8 KiB; the answer."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=TIMEOUT)
    sent = {**HEADERS, **(headers or {})}
    if chunked:
        parts = (body[i : i + 8192] for i in range(0, len(body), 8192))
        connection.request("POST", "/example/users", parts, sent, encode_chunked=True)
    else:
        connection.request("POST", "/example/users", body, sent)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response, content


def padded(size: int) -> bytes:
    """A JSON object of ``size`` bytes."""
    head = b'{"reputation": 1, "x": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def assert_json_413(response: http.client.HTTPResponse, content: bytes) -> None:
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"
    body = json.loads(content)
    assert body["status"] == "error"
    assert str(DEFAULT_MAX_BODY_BYTES) in body["errors"][0]["description"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_gets_the_json_413(server: Server, chunked: bool) -> None:
    assert_json_413(*post_user(server, padded(100 * 1024), chunked=chunked))
    response, content = post_user(server, b'{"reputation": 3}', chunked=chunked)
    assert response.status == 201, content
    assert json.loads(content)["id"] == 1  # the refused body created nobody


def test_a_body_of_any_declared_size_gets_the_json_413(server: Server) -> None:
    """gunicorn sets no body limit of its own: the declared length alone is refused by the
    application, before the body is sent."""
    head = (
        f"POST /example/users HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {4 * SERVER_MAX_BODY_BYTES}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((HOST, server.port), timeout=TIMEOUT) as connection:
        connection.sendall(head.encode())
        connection.shutdown(socket.SHUT_WR)
        answer = connection.makefile("rb").read()
    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"413"
    assert b"content-type: application/json" in head.lower()
    assert json.loads(content)["status"] == "error"


def test_the_proxy_headers_give_the_public_address(server: Server) -> None:
    forwarded = {
        "X-Forwarded-Host": "api.example.org",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Forwarded-For": "203.0.113.7",
    }
    response, content = post_user(server, b"{}", headers=forwarded)
    assert response.status == 201, content
    user = json.loads(content)
    assert response.getheader("Location") == f"https://api.example.org/example/users/{user['id']}"
