"""``/{contract}/events``: the feed of committed actions, with long-polling."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from cornice import Service

from ...auth.policy import READ
from ...domain.events import EventPage, list_events
from ...errors import ClientError
from ...pipeline.ratelimits import READS, client_of
from ..presenters import event
from ..responses import answer, refusal
from ..schemas import ListEvents
from ..validation import validate
from .common import query

RETRY_AFTER_SECONDS = 1


class TooManyWaiting(ClientError):
    """Every permit to wait for events is taken (503, ``Retry-After``)."""

    status = 503
    code = "too_many_waiting"
    location = "querystring"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class TooManyWaitingPerClient(TooManyWaiting):
    """The client holds its share of the permits already (429, ``Retry-After``): the
    client's own doing, where :class:`TooManyWaiting` is the service's."""

    status = 429
    code = "too_many_waiting_per_client"


feed = Service(
    name="events",
    path="/{contract}/events",
    description="The contract's events: one per committed action, oldest first.",
)


class WaitingSlots:
    """The process's permits to wait for events: ``total`` in all, ``per_client`` for one
    client, so that a few clients (anonymous readers from one address, say) cannot take them
    all and leave every other client a 503 for as long as they wait."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.held: Counter[str] = Counter()
        self.lock = threading.Lock()

    def take(self, client: str) -> None:
        """Take a permit for ``client``, or refuse: a 429 beyond the client's share, a 503
        when every permit is taken."""
        with self.lock:
            if self.held[client] >= self.per_client:
                raise TooManyWaitingPerClient(
                    "this client has as many requests waiting for events as it may", "wait"
                )
            if self.held.total() >= self.total:
                raise TooManyWaiting("too many requests are waiting for events; try again", "wait")
            self.held[client] += 1

    def give_back(self, client: str) -> None:
        """Return a permit :meth:`take` gave ``client``."""
        with self.lock:
            self.held[client] -= 1
            if not self.held[client]:
                del self.held[client]

    @contextmanager
    def permit(self, client: str) -> Iterator[None]:
        """Hold a permit for ``client`` for the ``with`` block (see :meth:`take`)."""
        self.take(client)
        try:
            yield
        finally:
            self.give_back(client)


def waiting_slots(request) -> WaitingSlots:
    """The process's permits to wait (``backfeed.events.max_waiters`` and
    ``backfeed.events.max_waiters_per_client``)."""
    registry = request.registry
    slots = registry.get("event_waiting_slots")
    if slots is None:
        settings = registry["event_settings"]
        slots = registry.setdefault(
            "event_waiting_slots",
            WaitingSlots(settings.max_waiters, settings.max_waiters_per_client),
        )
    return slots


def _read(request, q: dict) -> EventPage:
    return list_events(request.dbsession, request.contract, q["after"], q["limit"], q["types"])


def _wait_for_events(request, q: dict) -> EventPage:
    """Read again each time an event of the contract commits, until one matches or ``wait``
    runs out. No transaction stays open while waiting, so no connection is held."""
    signal, contract_id = request.registry["event_signal"], request.contract.row_id
    deadline = time.monotonic() + q["wait"]
    page = EventPage([], 0)
    while not page.items and (left := deadline - time.monotonic()) > 0:
        since = signal.mark(contract_id)
        request.tm.abort()
        signal.wait(since, left, contract_id)
        request.tm.begin()
        page = _read(request, q)
    return page


@feed.get(
    schema=ListEvents(),
    validators=(validate,),
    permission=READ,
    response_schemas={
        "200": answer("A page of events, oldest first.", "EventPage"),
        "429": refusal(
            "Or this client already has as many requests waiting for events as it may (`wait`)."
        ),
        "503": refusal("Or too many requests are already waiting for events (`wait`)."),
    },
)
def get_events(request) -> dict:
    """The events after ``after``, oldest first; the next page starts after the last id.

    With ``wait`` and no such event yet, the answer waits until one is committed or
    ``wait`` seconds pass (then with no items). A server lets only so many requests wait
    at once, and only so many of one client (its user or token, else its address): beyond them the
    answer is a 503, beyond the client's share a 429, both with ``Retry-After``.
    """
    q = query(request)
    page = _read(request, q)
    if not page.items and q["wait"]:
        with waiting_slots(request).permit(client_of(request, READS)):
            page = _wait_for_events(request, q)
    items = [event(row) for row in page.items]
    return {
        "count": len(items),
        "_meta": {
            "total": page.total,
            "limit": q["limit"],
            "start": 0,
            "after": q["after"],
            "next_after": items[-1]["id"] if items else q["after"],
        },
        "items": items,
    }
