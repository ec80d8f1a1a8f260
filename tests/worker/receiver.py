"""A real HTTP receiver of webhooks on 127.0.0.1, which answers as a test tells it to."""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request the receiver got, and when (``at``, monotonic seconds)."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """The requests received, the statuses to answer (per path, in turn; 200 when none is
    queued), an optional delay, and the most requests one path had in flight at once."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    delay: float = 0.0
    answer_bytes: int = 0
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    most_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        """The URL of ``path`` on this receiver."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def at(self, path: str) -> list[Received]:
        """The requests received at ``path``, in order."""
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self, received: Received) -> int:
        """Note a request in flight, in the order the requests came, and the status to
        answer it with. A request is noted before its answer is sent: a sender that gets
        the answer and sends its next request at once cannot be noted the other way round."""
        with self.lock:
            path = received.path
            self.received.append(received)
            self.in_flight[path] += 1
            self.most_in_flight[path] = max(self.most_in_flight[path], self.in_flight[path])
            queued = self.statuses[path]
            return queued.popleft() if queued else 200

    def done(self, received: Received) -> None:
        """Note that a request's answer was sent (or given up on)."""
        with self.lock:
            self.in_flight[received.path] -= 1


def start_receiver() -> Receiver:
    """Serve a receiver on a free port, on threads of its own."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            got = Received(self.path, headers, body, time.monotonic())
            status = receiver.answer(got)
            if receiver.delay:
                time.sleep(receiver.delay)
            payload = b"x" * receiver.answer_bytes
            try:
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the sender gave up on the answer
                pass
            receiver.done(got)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@dataclass
class Dripper:
    """A receiver on a raw socket that reads the request, sends ``at_once``, then
    ``dripped`` one byte a second: every read of the sender gets a byte long before any
    timeout per read."""

    sock: socket.socket
    at_once: bytes
    dripped: bytes
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self) -> str:
        """The URL of this receiver."""
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}/hook"

    def serve(self) -> None:
        """Answer each connection in turn, until stopped."""
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            with connection:
                connection.settimeout(5)
                request = b""
                try:
                    while b"\r\n\r\n" not in request:
                        request += connection.recv(65536) or b"\r\n\r\n"
                    connection.sendall(self.at_once)
                    for byte in self.dripped:
                        if self.stop.wait(1.0):
                            return
                        connection.sendall(bytes([byte]))
                except OSError:  # the sender gave up
                    continue

    def close(self) -> None:
        """Stop serving."""
        self.stop.set()
        self.sock.close()


def start_dripper(at_once: bytes, dripped: bytes) -> Dripper:
    """Serve a :class:`Dripper` on a free port of 127.0.0.1."""
    sock = socket.create_server(("127.0.0.1", 0))
    dripper = Dripper(sock, at_once, dripped)
    threading.Thread(target=dripper.serve, daemon=True).start()
    return dripper
