"""A real waitress server in a thread of the test process, started and stopped safely.

waitress's request threads wake its loop by writing a byte to a pipe (its "trigger") with
``os.write``, unchecked. A request that ends after the server was closed (a long-poll of a
page the test has left) wrote ``x`` into whatever the pipe's descriptor had become: a later
test's SQLite database, once, which every test after it then found "not a database". The
servers made here ignore a wake-up once the trigger is closed, and are closed by their own
loop, not under its ``select`` from another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import waitress
from waitress import wasyncore
from waitress.server import BaseWSGIServer

JOIN_SECONDS = 30.0


def _ignore_wakeups_once_closed(trigger: wasyncore.dispatcher) -> None:
    """Make a wake-up after the trigger's pipe is closed do nothing, instead of writing to a
    descriptor that may belong to another file by then."""
    lock = threading.Lock()
    pull, close = trigger._physical_pull, trigger._close

    def guarded_pull() -> None:
        with lock:
            if not trigger._closed:  # set before the pipe is closed, under the same lock
                pull()

    def guarded_close() -> None:
        with lock:
            close()

    trigger._physical_pull, trigger._close = guarded_pull, guarded_close


@contextmanager
def serving(wsgi, **options: object) -> Iterator[BaseWSGIServer]:
    """``wsgi`` served by waitress on a free port of 127.0.0.1 for the block (``options``
    are more of waitress's settings); the server, whose ``effective_port`` is its port."""
    server = waitress.create_server(wsgi, host="127.0.0.1", port=0, **options)
    _ignore_wakeups_once_closed(server.trigger)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        yield server
    finally:
        server.task_dispatcher.set_thread_count(0)  # each ends after its current request
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        loop.join(JOIN_SECONDS)
