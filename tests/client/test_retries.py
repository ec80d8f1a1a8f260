"""The client's retries, on a transport that fails as a test says: bounded, honouring
``Retry-After``, one ``Idempotency-Key`` through the retries of a POST."""

from __future__ import annotations

import httpx
import pytest

from backfeed_api.client import ApiError, Client

USER = {
    "id": 1,
    "tokens": 0.0,
    "reputation": 0.0,
    "reputation_normalized": 0.0,
    "total_reputation": 0.0,
    "created_at": "2026-01-01T00:00:00Z",
}
BUSY = {"status": "error", "errors": [{"location": "", "name": "", "description": "busy"}]}


def scripted(*answers):
    """A client whose transport gives ``answers`` in turn (an exception is raised), with
    the requests it saw and the waits it slept."""
    seen, waits = [], []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = Client(
        "http://backfeed.test",
        "example",
        token="t",
        transport=httpx.MockTransport(handler),
        sleep=waits.append,
        retries=2,
        max_wait=10,
    )
    return client, seen, waits


def test_429_and_503_are_sent_again_after_retry_after() -> None:
    client, seen, waits = scripted(
        httpx.Response(429, json=BUSY, headers={"Retry-After": "3"}),
        httpx.Response(503, json=BUSY, headers={"Retry-After": "1"}),
        httpx.Response(201, json=USER),
    )
    assert client.create_user().id == 1
    assert waits == [3.0, 1.0]
    keys = {request.headers["Idempotency-Key"] for request in seen}
    assert len(keys) == 1  # the same key every time: applied at most once


def test_connection_errors_are_retried_with_backoff() -> None:
    client, seen, waits = scripted(
        httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200, json=USER)
    )
    assert client.user(1).id == 1
    assert waits == [0.5, 1.0]
    assert len(seen) == 3


def test_retries_are_bounded() -> None:
    client, seen, _ = scripted(*[httpx.Response(503, json=BUSY)] * 3)
    with pytest.raises(ApiError) as failed:
        client.user(1)
    assert failed.value.status == 503
    assert len(seen) == 3
    client, seen, _ = scripted(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(httpx.ConnectError):
        client.user(1)
    assert len(seen) == 3


def test_a_wait_beyond_max_wait_is_raised_at_once() -> None:
    client, seen, waits = scripted(
        httpx.Response(429, json=BUSY, headers={"Retry-After": "86400"})
    )
    with pytest.raises(ApiError) as refused:
        client.user(1)
    assert refused.value.retry_after == 86400
    assert waits == []
    assert len(seen) == 1


def test_a_delete_that_may_have_arrived_is_not_sent_again() -> None:
    client, seen, _ = scripted(httpx.ReadTimeout("slow"))
    with pytest.raises(httpx.ReadTimeout):
        client.logout()
    assert len(seen) == 1


def test_error_codes_are_read() -> None:
    body = {
        "status": "error",
        "errors": [{"location": "body", "name": "value", "description": "no", "code": "x_y"}],
    }
    client, _, _ = scripted(httpx.Response(400, json=body))
    with pytest.raises(ApiError) as refused:
        client.evaluate(1, 1, 7)
    assert refused.value.codes == ["x_y"]
