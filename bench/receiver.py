"""The webhook bench's receiver in a process of its own, as a real receiver is another
service: ``gunicorn -k gthread bench.receiver:app`` (one process, so that it holds every
arrival; threads for the worker's keep-alive connections).

``POST <any path>`` answers 204 and notes, for an ``evaluation.created`` delivery, the path,
the evaluation's id and the arrival's :func:`time.monotonic` (one clock for every process of
the machine). ``GET /arrivals?from=N`` answers the arrivals from the ``N``-th on, as a JSON
list of ``[path, id, time]``.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs

ARRIVALS: list[tuple[str, int, float]] = []
LOCK = threading.Lock()


def app(environ: dict, start_response) -> list[bytes]:
    """Note a delivery, or list the arrivals noted."""
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        if body["type"] == "evaluation.created":
            with LOCK:
                ARRIVALS.append((environ["PATH_INFO"], body["data"]["id"], time.monotonic()))
        start_response("204 No Content", [])
        return []
    start = int(parse_qs(environ.get("QUERY_STRING", "")).get("from", ["0"])[0])
    with LOCK:
        answer = json.dumps(ARRIVALS[start:]).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
    )
    return [answer]
