"""Sending one event to one webhook: signed as Standard Webhooks says, bounded in time and size.

The body is ``{"id", "type", "timestamp", "data"}`` (the event's id, type, time and data);
the headers ``webhook-id`` (the event's id, the same on every attempt), ``webhook-timestamp``
(when this attempt was signed) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>``, made
by the ``standardwebhooks`` library). The URL is checked again each time the subscription
is claimed (:mod:`backfeed_api.domain.webhook_targets`) and the requests go to the address
checked, with the URL's host name for the ``Host`` header and TLS. Redirects are not
followed. Only
the status is needed: at most :data:`MAX_ANSWER_BYTES` of the answer are read, and every
connect, write and read waits at most the configured timeout.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
from standardwebhooks import Webhook as Signer

from ..clock import iso, utc_now
from ..domain.webhook_targets import Target, TargetRefused, check_target
from ..domain.webhooks import Attempt, Claim, signing_secret
from ..models import Event
from ..settings import EventSettings

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "backfeed-webhooks/1"


def payload(event: Event) -> str:
    """The body of a delivery of ``event``."""
    document = {
        "id": event.id,
        "type": event.type,
        "timestamp": iso(event.created_at),
        "data": event.data,
    }
    return json.dumps(document, allow_nan=False, separators=(",", ":"))


def signed_headers(secret: bytes, message_id: str, body: str, moment: datetime) -> dict:
    """The Standard Webhooks headers of a body signed with ``secret`` at ``moment``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Signer(secret).sign(message_id, moment, body),
    }


def _pinned_url(target: Target, address: str, url: httpx.URL) -> httpx.URL:
    """``url`` with its host replaced by the checked address."""
    return url.copy_with(host=address, port=target.port)


class Sender:
    """Delivers events over one pool of connections (one per worker thread)."""

    def __init__(self, options: EventSettings) -> None:
        self.options = options
        self.client = httpx.Client(
            timeout=httpx.Timeout(options.timeout_seconds),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT, "content-type": "application/json"},
            trust_env=False,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.client.close()

    def target(self, held: Claim) -> Target:
        """The claimed subscription's URL, checked and resolved once for the events sent to
        it now (:class:`TargetRefused` when it may not be delivered to)."""
        return check_target(held.url, self.options.allow_private_targets)

    def send(
        self, held: Claim, target: Target | TargetRefused, event: Event, attempted_at: datetime
    ) -> Attempt:
        """Attempt the delivery of ``event`` to the claimed subscription at ``target`` (or
        record why it could not be): delivered on a 2xx."""
        started = time.monotonic()
        status, error = None, None
        try:
            if isinstance(target, TargetRefused):
                raise target
            status = self._post(held, target, event)
        except TargetRefused as refusal:
            error = refusal.description
        except httpx.TimeoutException:
            error = f"no answer within {self.options.timeout_seconds:g} s"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        duration_ms = (time.monotonic() - started) * 1000
        delivered = status is not None and 200 <= status < 300
        return Attempt(event.id, status, error, duration_ms, delivered, attempted_at)

    def _post(self, held: Claim, target: Target, event: Event) -> int:
        body = payload(event)
        secret = signing_secret(self.options.signing_key, held.secret_salt)
        # The wall clock, not the service's: receivers refuse a signature more than five
        # minutes from their own time (a replay), whatever clock the service runs on.
        headers = signed_headers(secret, str(event.id), body, utc_now())
        url = httpx.URL(held.url)
        headers["host"] = url.netloc.decode("ascii")
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self.client.build_request(
            "POST",
            _pinned_url(target, target.addresses[0], url),
            content=body.encode(),
            headers=headers,
            extensions=extensions,
        )
        response = self.client.send(request, stream=True)
        try:
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    break
        finally:
            response.close()
        return response.status_code
