"""Sending one event to one webhook: signed as Standard Webhooks says, bounded in time and size.

The body is ``{"id", "type", "timestamp", "data"}`` (the event's id, type, time and data);
the headers ``webhook-id`` (the event's id, the same on every attempt), ``webhook-timestamp``
(when this attempt was signed) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``, made
by the ``standardwebhooks`` library). The URL is checked again each time the subscription
is claimed (:mod:`backfeed_api.domain.webhook_targets`) and the requests go to the address
checked, with the URL's host name for the ``Host`` header and TLS. Redirects are not
followed. Only the status is needed: at most :data:`MAX_ANSWER_BYTES` of the answer are
read.

An attempt has one deadline, the configured timeout, from the connection to the answer's
status line and headers: every connect, TLS handshake, write and read of the attempt waits
only for what is left of it. Timeouts per read alone would let a receiver that drips its
answer, a byte a second, hold a worker for hours. The requests are made with ``httpcore``
(the engine of ``httpx``), whose network backend is public: :class:`DeadlineBackend` wraps
the stock one to clamp each wait.
"""

from __future__ import annotations

import json
import math
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpcore
import httpx
from standardwebhooks import Webhook as Signer

from ..clock import iso, utc_now
from ..domain.webhook_targets import Target, TargetRefused, check_target
from ..domain.webhooks import Attempt, Claim, PendingEvent, signing_secret
from ..settings import EventSettings

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "backfeed-webhooks/1"
KEEPALIVE_SECONDS = 5.0
"""How long an idle connection to a receiver is kept for the next attempt."""


def payload(event: PendingEvent) -> str:
    """The body of a delivery of ``event``: its data is the JSON text stored, as it is."""
    head = {"id": event.id, "type": event.type, "timestamp": iso(event.created_at)}
    return f'{json.dumps(head, separators=(",", ":"))[:-1]},"data":{event.data_json}}}'


def signed_headers(signer: Signer, message_id: str, body: str, moment: datetime) -> list:
    """The Standard Webhooks headers of a body signed by ``signer`` at ``moment``."""
    return [
        (b"webhook-id", message_id.encode()),
        (b"webhook-timestamp", str(int(moment.timestamp())).encode()),
        (b"webhook-signature", signer.sign(message_id, moment, body).encode()),
    ]


WRITE_CHUNK = 16 * 1024
"""The most bytes given the socket in one write, so that each write waits for the time left:
one write of the whole body could wait that long for every part of it."""


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends by its backend's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self.stream = stream
        self.backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read, waiting at most ``timeout`` and never past the deadline."""
        return self.stream.read(max_bytes, self.backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write, a chunk at a time, each waiting at most ``timeout`` and never past the
        deadline."""
        for start in range(0, len(buffer), WRITE_CHUNK):
            chunk = buffer[start : start + WRITE_CHUNK]
            self.stream.write(chunk, self.backend.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        """Close the connection."""
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """The connection over TLS, the handshake ending by the deadline."""
        left = self.backend.left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self.stream.start_tls(ssl_context, server_hostname, left), self.backend
        )

    def get_extra_info(self, info: str) -> Any:
        """What the wrapped connection says (the pool asks whether it is still usable)."""
        return self.stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own backend, every wait of whose connections ends by :attr:`deadline`
    (a :func:`time.monotonic` time, set before each attempt). One per :class:`Sender`, so
    one per worker thread."""

    def __init__(self) -> None:
        self.backend = httpcore.SyncBackend()
        self.deadline = math.inf

    def left(self, timeout: float | None, expired: type[httpcore.TimeoutException]) -> float:
        """The wait allowed now: ``timeout``, but no later than the deadline; ``expired``
        raised when it has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise expired("the attempt's deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """A connection to ``host``, made by the deadline."""
        left = self.left(timeout, httpcore.ConnectTimeout)
        stream = self.backend.connect_tcp(host, port, left, local_address, socket_options)
        return DeadlineStream(stream, self)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Refused: webhooks are delivered over TCP only."""
        raise httpcore.ConnectError("webhooks are delivered over TCP only")


FAILURES = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)
"""What a failed exchange with a receiver raises, timeouts apart."""


@dataclass(frozen=True)
class Destination:
    """A claimed subscription as its events are sent now: the address checked (or why it may
    not be delivered to), the request's URL and fixed headers, and its signer."""

    target: Target | TargetRefused
    url: httpcore.URL | None
    headers: list
    extensions: dict
    signer: Signer


class Sender:
    """Delivers events over one pool of connections (one per worker thread)."""

    def __init__(self, options: EventSettings) -> None:
        self.options = options
        self.backend = DeadlineBackend()
        self.pool = httpcore.ConnectionPool(
            network_backend=self.backend, keepalive_expiry=KEEPALIVE_SECONDS
        )
        timeout = options.timeout_seconds
        self.timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.close()

    def destination(self, held: Claim) -> Destination:
        """Where the claimed subscription's events go now: its URL checked and resolved once
        for them (:class:`TargetRefused` kept, to be recorded, when it may not be delivered
        to), the parts of their requests that do not change, and the signer."""
        signer = Signer(signing_secret(self.options.signing_key, held.secret_salt))
        try:
            target = check_target(held.url, self.options.allow_private_targets)
        except TargetRefused as refusal:
            return Destination(refusal, None, [], {}, signer)
        url = httpx.URL(held.url)
        headers = [
            (b"host", url.netloc),
            (b"user-agent", USER_AGENT.encode()),
            (b"content-type", b"application/json"),
        ]
        extensions: dict[str, Any] = {"timeout": self.timeouts}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        pinned = httpcore.URL(
            scheme=target.scheme.encode(),
            host=target.addresses[0].encode(),
            port=target.port,
            target=url.raw_path,
        )
        return Destination(target, pinned, headers, extensions, signer)

    def send(self, to: Destination, event: PendingEvent, attempted_at: datetime) -> Attempt:
        """Attempt the delivery of ``event`` to a claimed subscription (or record why it
        could not be): delivered on a 2xx within the timeout."""
        started = time.monotonic()
        self.backend.deadline = started + self.options.timeout_seconds
        status, error = None, None
        try:
            if isinstance(to.target, TargetRefused):
                raise to.target
            status = self._post(to, event)
        except TargetRefused as refusal:
            error = refusal.description
        except httpcore.TimeoutException:
            error = f"no answer within {self.options.timeout_seconds:g} s"
        except FAILURES as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        finally:
            self.backend.deadline = math.inf
        duration_ms = (time.monotonic() - started) * 1000
        delivered = status is not None and 200 <= status < 300
        return Attempt(event.id, status, error, duration_ms, delivered, attempted_at)

    def _post(self, to: Destination, event: PendingEvent) -> int:
        text = payload(event)
        body = text.encode()
        # The wall clock, not the service's: receivers refuse a signature more than five
        # minutes from their own time (a replay), whatever clock the service runs on.
        signed = signed_headers(to.signer, str(event.id), text, utc_now())
        headers = [*to.headers, (b"content-length", str(len(body)).encode()), *signed]
        with self.pool.stream(
            "POST", to.url, headers=headers, content=body, extensions=to.extensions
        ) as response:
            self._discard(response)
        return response.status

    def _discard(self, response: httpcore.Response) -> None:
        """Read some of the answer, so that the connection may serve the next attempt; not
        needed for the status, so a receiver slow to send it is not waited for."""
        read = 0
        try:
            for chunk in response.iter_stream():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    break
        except (httpcore.TimeoutException, *FAILURES):
            pass  # the connection is closed, not reused
