"""``/{contract}/events``: the feed of committed actions, with long-polling."""

from __future__ import annotations

import threading
import time

from cornice import Service

from ...auth.policy import READ
from ...domain.events import EventPage, list_events
from ...errors import ClientError
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


feed = Service(
    name="events",
    path="/{contract}/events",
    description="The contract's events: one per committed action, oldest first.",
)


def waiting_slots(request) -> threading.BoundedSemaphore:
    """The process's permits to wait (``backfeed.events.max_waiters``)."""
    registry = request.registry
    slots = registry.get("event_waiting_slots")
    if slots is None:
        limit = registry["event_settings"].max_waiters
        slots = registry.setdefault("event_waiting_slots", threading.BoundedSemaphore(limit))
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
        "503": refusal("Or too many requests are already waiting for events (`wait`)."),
    },
)
def get_events(request) -> dict:
    """The events after ``after``, oldest first; the next page starts after the last id.

    With ``wait`` and no such event yet, the answer waits until one is committed or
    ``wait`` seconds pass (then with no items). A server lets only so many requests wait
    at once: beyond them the answer is a 503 with ``Retry-After``.
    """
    q = query(request)
    page = _read(request, q)
    if not page.items and q["wait"]:
        slots = waiting_slots(request)
        if not slots.acquire(blocking=False):
            raise TooManyWaiting("too many requests are waiting for events; try again", "wait")
        try:
            page = _wait_for_events(request, q)
        finally:
            slots.release()
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
