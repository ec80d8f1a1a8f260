"""The tests' waitress servers (tests/waitress_server.py) stop without writing into files
that are not theirs."""

from __future__ import annotations

import http.client

from .waitress_server import serving


def hello(_environ, start_response) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_a_wakeup_after_the_server_stopped_writes_into_no_file(tmp_path) -> None:
    """A request thread that ends after the server closed wakes its loop all the same; the
    descriptor of the closed pipe may be a newly opened file's by then."""
    with serving(hello, threads=1) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        connection.request("GET", "/")
        assert connection.getresponse().read() == b"ok"
        connection.close()
    files = [(tmp_path / f"file{n}").open("w+b") for n in range(8)]  # on the freed numbers
    try:
        server.trigger.pull_trigger()  # what a late request thread does
        for file in files:
            file.seek(0)
        assert [file.read() for file in files] == [b""] * len(files)
    finally:
        for file in files:
            file.close()
