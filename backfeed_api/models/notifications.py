"""Waking whoever waits for a contract's next event: PostgreSQL's ``LISTEN``, or a short poll.

A committed event notifies the channel :data:`CHANNEL` with its contract's id (the insert of
``domain/events.py`` does it, and PostgreSQL delivers it on commit). Each process keeps one
connection listening there, on a thread of its own started at the first wait, and counts
the notifications per contract; a waiter notes the count (:meth:`EventSignal.mark`) before
it reads, and :meth:`EventSignal.wait` returns as soon as the count moves past it, so an
event committed between the read and the wait is never missed. SQLite has no such signal:
a wait there lasts one :data:`POLL_SECONDS` at most, and the waiter reads again.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy import Engine

from .dialects import dialect_of

log = logging.getLogger(__name__)

CHANNEL = "backfeed_events"
POLL_SECONDS = 0.2
"""How long a wait lasts at most without a listener (SQLite), before the waiter reads again."""
RECHECK_SECONDS = 5.0
"""How long a wait lasts at most with a listener: a reader looks again anyway, in case the
listening connection was lost and reconnected in between."""
RECONNECT_SECONDS = 1.0


class EventSignal:
    """The notifications of new events in this process, by contract id (0: any contract)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.listens = dialect_of(engine).notifies
        self._counts: dict[int, int] = {}
        self._changed = threading.Condition()
        self._pid: int | None = None
        self._ready = threading.Event()

    def mark(self, contract_id: int = 0) -> int:
        """The count of notifications so far for ``contract_id`` (every contract with 0), to
        pass to :meth:`wait` after reading."""
        self._start()
        with self._changed:
            return self._counts.get(contract_id, 0)

    def wait(self, since: int, timeout: float, contract_id: int = 0) -> bool:
        """Wait until a notification for ``contract_id`` comes after the count ``since``, or
        ``timeout`` seconds pass; whether one came. Without a listener, return after a poll
        interval: the caller reads again."""
        if not self.listens:
            time.sleep(max(0.0, min(timeout, POLL_SECONDS)))
            return False
        with self._changed:
            return self._changed.wait_for(
                lambda: self._counts.get(contract_id, 0) > since,
                timeout=max(0.0, min(timeout, RECHECK_SECONDS)),
            )

    def notify(self, contract_id: int) -> None:
        """Count one notification for ``contract_id`` and wake the waiters."""
        with self._changed:
            self._counts[contract_id] = self._counts.get(contract_id, 0) + 1
            self._counts[0] = self._counts.get(0, 0) + 1
            self._changed.notify_all()

    def _start(self) -> None:
        """Start listening in this process (again after a fork), and wait until it does."""
        if not self.listens or self._pid == os.getpid():
            return
        with self._changed:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._ready.clear()
            threading.Thread(target=self._listen, name="event-listener", daemon=True).start()
        self._ready.wait(timeout=RECONNECT_SECONDS * 5)

    def _listen(self) -> None:
        """Listen on :data:`CHANNEL` for as long as the process lives, reconnecting after a
        failure (and waking every waiter then, since notifications may have been lost)."""
        while True:
            try:
                self._listen_once()
            except Exception as error:  # the connection failed: try again in a moment
                log.warning("event listener: %s; reconnecting", error)
                for contract_id in list(self._counts):
                    self.notify(contract_id)
                time.sleep(RECONNECT_SECONDS)

    def _listen_once(self) -> None:
        dialect = self.engine.dialect
        arguments, options = dialect.create_connect_args(self.engine.url)
        connection = dialect.loaded_dbapi.connect(*arguments, **options, autocommit=True)
        try:
            connection.execute(f"LISTEN {CHANNEL}")
            self._ready.set()
            for notification in connection.notifies():
                self.notify(int(notification.payload))
        finally:
            connection.close()
