"""A corpus of hostile requests: each is refused with its 4xx in the JSON error shape, shows
nothing of the server, and leaves every table of the database exactly as it was.

Each row is one class of malformed input, sent as raw bytes (name, method, path, headers,
body), so that nothing in the test client tidies it up first. Bodies are sent with a
``Content-Length``, or without one (``chunked``) as a server passes on a chunked upload.
The requests carry the admin credentials (``credentials`` in ``conftest.py``), so that they
are refused for what they contain, not for who sends them.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest
from webtest import TestApp, TestRequest, TestResponse

from backfeed_api.settings import DEFAULT_MAX_BODY_BYTES

from .conftest import Served, assert_error

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
U, C, E = "/example/users", "/example/contributions", "/example/evaluations"
TOO_LARGE = DEFAULT_MAX_BODY_BYTES + 1


@dataclass(frozen=True)
class Hostile:
    """One hostile request and the status it must get.

    ``path`` and a ``str`` body are formatted with the ids of :class:`World` (``{ann}``);
    a ``bytes`` body is sent as it is. ``lint`` is off for the requests that no WSGI server
    would pass on (WebTest's checker refuses them before the application sees them).
    """

    method: str
    path: str
    status: int
    body: str | bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    lint: bool = True

    def request(self, ids: dict[str, int], credentials: dict[str, str]) -> TestRequest:
        """The request, built from its parts without any cleaning."""
        path = self.path.format(**ids)
        body = self.body.format(**ids).encode() if isinstance(self.body, str) else self.body
        request = TestRequest.blank(path, method=self.method)
        if self.chunked:
            request.environ["wsgi.input"] = io.BytesIO(body)
            request.environ.pop("CONTENT_LENGTH", None)
            request.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            request.environ["wsgi.input_terminated"] = True
        elif body:
            request.body = body
        if self.content_type is not None:
            request.environ["CONTENT_TYPE"] = self.content_type
        for name, value in {**credentials, **self.headers}.items():
            request.headers[name] = value
        return request

    def send(self, app: TestApp, ids: dict[str, int], credentials: dict[str, str]) -> TestResponse:
        """Send the request; any status is accepted here."""
        client = app if self.lint else TestApp(app.app, lint=False)
        return client.do_request(self.request(ids, credentials), status=None, expect_errors=True)


def post(path: str, body: str | bytes, status: int = 400, content_type: str = JSON) -> Hostile:
    """A POST of ``body`` as ``content_type``."""
    return Hostile("POST", path, status, body, content_type)


def get(path: str, status: int = 400, **headers: str) -> Hostile:
    """A GET of ``path``."""
    return Hostile("GET", path, status, headers=headers)


def keyed(key: str, status: int = 400, body: str = '{{"reputation": 1}}') -> Hostile:
    """A user creation with an ``Idempotency-Key``."""
    return Hostile("POST", U, status, body, JSON, headers={"Idempotency-Key": key})


VOTE = '{{"evaluator_id": {ann}, "contribution_id": {article}, "value": %s}}'
CONTRIBUTION = '{{"contributor_id": {ann}, "type": %s}}'
PADDED = '{{"reputation": 1, "padding": "' + "x" * DEFAULT_MAX_BODY_BYTES + '"}}'

CORPUS: dict[str, Hostile] = {
    # -- JSON that is not JSON, or not an object -------------------------------------------------
    "malformed-json": post(U, '{{"reputation": 1,}}'),
    "truncated-json": post(U, '{{"reputation": '),
    "single-quoted-json": post(U, "{{'reputation': 1}}"),
    "json-comment": post(U, '{{"reputation": 1 /* ten */}}'),
    "json-trailing-garbage": post(U, '{{"reputation": 1}} x'),
    "json-array": post(U, '[{{"reputation": 1}}]'),
    "json-string": post(U, '"reputation"'),
    "json-number": post(U, "1"),
    "json-null": post(U, "null"),
    "json-true": post(U, "true"),
    "json-whitespace-only": post(C, "   "),
    # -- numbers ---------------------------------------------------------------------------------
    "nan": post(U, '{{"reputation": NaN}}'),
    "infinity": post(U, '{{"tokens": Infinity}}'),
    "minus-infinity": post(U, '{{"tokens": -Infinity}}'),
    "number-1e400": post(U, '{{"reputation": 1e400}}'),
    "balance-above-maximum": post(U, '{{"tokens": 1e300}}'),
    "id-beyond-int64": post(U, '{{"referrer_id": 9223372036854775808}}'),
    "id-of-5000-digits": post(U, '{{"referrer_id": ' + "9" * 5000 + "}}"),
    "negative-reputation": post(U, '{{"reputation": -1}}'),
    "negative-tokens": post(U, '{{"tokens": -0.01}}'),
    "negative-id": post(C, '{{"contributor_id": -1}}'),
    "fractional-id": post(C, '{{"contributor_id": 1.5}}'),
    "vote-value-nan": post(E, VOTE % "NaN"),
    "vote-value-huge": post(E, VOTE % ("1" + "0" * 400)),
    "balance-beyond-the-total": post(U, '{{"reputation": 1e15}}', 409),  # 10^15 + the others
    # -- the rules of the contract ---------------------------------------------------------------
    "self-vote": post(E, VOTE % "1", 403),  # ann's vote on her own article
    # -- strings and structure -------------------------------------------------------------------
    "repeated-json-key": post(U, '{{"reputation": 1, "reputation": 2}}'),
    "deeply-nested-arrays": post(U, "[" * 20000 + "]" * 20000),
    "deeply-nested-objects": post(U, '{{"a": ' * 5000 + "1" + "}}" * 5000),
    "nested-value": post(U, '{{"reputation": {{"$gt": 0}}}}'),
    "nul-in-string": post(C, CONTRIBUTION % '"art\\u0000icle"'),
    "raw-control-character": post(C, CONTRIBUTION % '"art\\u0007icle"'),
    "lone-surrogate": post(C, CONTRIBUTION % '"\\ud800"'),
    "overlong-string": post(C, CONTRIBUTION % ('"' + "a" * 10000 + '"')),
    "unknown-field": post(U, '{{"reputation": 1, "admin": true}}'),
    # -- contracts over HTTP ---------------------------------------------------------------------
    "contract-name-of-dots": Hostile("PUT", "/..%2e", 400, '{{"kind": "example"}}', JSON),
    "contract-name-of-500": Hostile("PUT", "/" + "n" * 500, 400, '{{"kind": "example"}}', JSON),
    "contract-kind-of-a-path": Hostile(
        "PUT", "/fresh", 400, '{{"kind": "../../etc/passwd"}}', JSON
    ),
    "contract-parameters-a-list": Hostile(
        "PUT", "/fresh", 400, '{{"kind": "example", "parameters": [1]}}', JSON
    ),
    "parameters-by-the-thousand": Hostile(
        "PATCH",
        "/example",
        400,
        json.dumps({"parameters": {f"p{i}": 1 for i in range(5000)}})
        .replace("{", "{{")
        .replace("}", "}}"),
        JSON,
    ),
    "parameter-nested": Hostile(
        "PATCH", "/example", 400, '{{"parameters": {{"beta": {{"$gt": 0}}}}}}', JSON
    ),
    "parameter-nan": Hostile("PATCH", "/example", 400, '{{"parameters": {{"beta": NaN}}}}', JSON),
    "parameter-huge": Hostile(
        "PATCH", "/example", 400, '{{"parameters": {{"beta": 1e400}}}}', JSON
    ),
    # -- encodings and media types ---------------------------------------------------------------
    "invalid-utf8-body": post(C, b'{"contributor_id": 1, "type": "\xff\xfe"}'),
    "utf16-body": post(U, '{"reputation": 1}'.encode("utf-16")),
    "utf8-byte-order-mark": post(U, b'\xef\xbb\xbf{"reputation": 1}'),
    "charset-latin1": post(U, '{{"reputation": 1}}', 415, "application/json; charset=latin-1"),
    "charset-utf16": post(U, '{{"reputation": 1}}', 415, "application/json; charset=utf-16"),
    "charset-unknown": post(U, "reputation=1", 415, f"{FORM}; charset=klingon"),
    "no-content-type": post(U, '{{"reputation": 1}}', 415, ""),
    "text-plain": post(U, '{{"reputation": 1}}', 415, "text/plain"),
    "multipart": post(U, "--b\r\n\r\nx\r\n--b--", 415, "multipart/form-data; boundary=b"),
    "xml": post(U, "<user/>", 415, "application/xml"),
    "content-type-garbage": post(U, '{{"reputation": 1}}', 415, "not a media type"),
    "json-suffix-type": post(U, '{{"reputation": 1}}', 415, "application/merge-patch+json"),
    # -- form bodies -----------------------------------------------------------------------------
    "form-duplicated-key": post(U, "reputation=1&reputation=2", content_type=FORM),
    "form-invalid-percent-utf8": post(U, "reputation=%ff", content_type=FORM),
    "form-raw-invalid-utf8": post(U, b"reputation=\xff", content_type=FORM),
    "form-nul": post(C, "contributor_id={ann}&type=%00", content_type=FORM),
    "form-unknown-key": post(U, "karma=1", content_type=FORM),
    "form-nan": post(U, "tokens=nan", content_type=FORM),
    "form-negative": post(U, "tokens=-1", content_type=FORM),
    # -- sizes -----------------------------------------------------------------------------------
    "oversized-json": post(U, PADDED, 413),
    "oversized-form": post(U, "reputation=1&x=" + "x" * DEFAULT_MAX_BODY_BYTES, 413, FORM),
    "oversized-chunked": Hostile("POST", U, 413, PADDED, JSON, chunked=True),
    "oversized-chunked-garbage": Hostile("POST", C, 413, b"\0" * TOO_LARGE, JSON, chunked=True),
    "oversized-get-body": Hostile("GET", U, 413, b" " * TOO_LARGE, JSON),
    "chunked-malformed-json": Hostile("POST", U, 400, "{{", JSON, chunked=True),
    "content-length-not-a-number": Hostile(
        "POST", U, 400, '{{"reputation": 1}}', JSON, {"Content-Length": "ten"}, lint=False
    ),
    "content-length-negative": Hostile(
        "POST", U, 400, '{{"reputation": 1}}', JSON, {"Content-Length": "-1"}, lint=False
    ),
    # -- query strings ---------------------------------------------------------------------------
    "query-repeated-key": get(f"{U}?limit=1&limit=2"),
    "query-unknown-key": get(f"{U}?admin=1"),
    "query-limit-not-a-number": get(f"{C}?limit=ten"),
    "query-limit-hex": get(f"{C}?limit=0x10"),
    "query-start-not-a-number": get(f"{E}?start=one"),
    "query-start-negative": get(f"{U}?start=-1"),
    "query-start-beyond-int64": get(f"{U}?start=9223372036854775808"),
    "query-overlong-value": get(f"{C}?type=" + "a" * 5000),
    "query-overlong-number": get(f"{U}?limit=" + "1" * 5000),
    "query-invalid-utf8": get(f"{C}?type=%ff"),
    "query-invalid-utf8-key": get(f"{U}?%c3%28=1"),
    "query-encoded-surrogate": get(f"{C}?type=%ed%a0%80"),
    "query-nul": get(f"{C}?type=%00"),
    "query-nul-in-order": get(f"{U}?order_by=time%00"),
    "query-nan-filter": get(f"{E}?value=nan"),
    # -- paths -----------------------------------------------------------------------------------
    "path-invalid-utf8": get(f"{U}/%ff"),
    "path-invalid-utf8-contract": get("/%c3%28/users"),
    "path-nul-id": get(f"{U}/%00", 404),
    "path-nul-contract": get("/exam%00ple/users", 404),
    "path-id-beyond-int64": get(f"{U}/9223372036854775808", 404),
    "path-negative-id": get(f"{C}/-1", 404),
    "path-dot-segments": get("/example/../../etc/passwd", 404),
    # -- headers ---------------------------------------------------------------------------------
    "idempotency-key-with-space": keyed("two words"),
    "idempotency-key-non-ascii": keyed("cl\xe9"),
    "idempotency-key-control-character": keyed("a\x01b"),
    "idempotency-key-too-long": keyed("k" * 256),
    "idempotency-key-empty": keyed(""),
    "idempotency-key-reused-other-body": keyed("used-key", 422, '{{"reputation": 2}}'),
    # -- methods ---------------------------------------------------------------------------------
    "delete": Hostile("DELETE", f"{U}/{{ann}}", 405),
    "put": Hostile("PUT", U, 405, '{{"reputation": 1}}', JSON),
    "trace": Hostile("TRACE", U, 405),
    "options-without-cors": Hostile("OPTIONS", U, 405, headers={"Origin": "https://evil.test"}),
    "made-up-method": Hostile("BREW", U, 405, lint=False),
}


@dataclass(frozen=True)
class World:
    """A few objects, so that snapshots have rows to compare and requests ids to name."""

    ann: int
    article: int


@pytest.fixture(scope="module")
def world(served: Served, credentials: dict[str, str]) -> World:
    """One user with an article, and an ``Idempotency-Key`` already used."""
    app = served.app
    ann = app.post_json(U, {"reputation": 10}, headers=credentials).json["id"]
    article = app.post_json(C, {"contributor_id": ann}, headers=credentials).json["id"]
    app.post_json(U, {"reputation": 1}, headers={**credentials, "Idempotency-Key": "used-key"})
    return World(ann, article)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    assert sum(case.status == 413 for case in CORPUS.values()) >= 3
    assert any(case.chunked and case.status == 413 for case in CORPUS.values())


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_request_is_refused(
    name: str, served: Served, world: World, credentials: dict[str, str]
) -> None:
    case = CORPUS[name]
    ids = {"ann": world.ann, "article": world.article}
    with served.unchanged():
        response = case.send(served.app, ids, credentials)
    assert_error(response, case.status)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_refused_body_is_not_read(served: Served, world: World) -> None:
    """A declared Content-Length over the limit is refused without reading a byte."""

    class Untouchable(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("the body was read")

    request = TestRequest.blank(U, method="POST", content_type=JSON)
    request.environ["wsgi.input"] = Untouchable()
    request.environ["CONTENT_LENGTH"] = str(10**9)
    with served.unchanged():
        response = served.app.do_request(request, status=None, expect_errors=True)
    assert_error(response, 413, location="body")


def test_a_chunked_body_is_read_no_further_than_the_limit(served: Served, world: World) -> None:
    """A body of unknown length is read up to the limit and one byte more, then refused."""
    stream = io.BytesIO(b"{" * (4 * DEFAULT_MAX_BODY_BYTES))
    request = TestRequest.blank(U, method="POST", content_type=JSON)
    request.environ.update(
        {"wsgi.input": stream, "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    )
    request.environ.pop("CONTENT_LENGTH", None)
    with served.unchanged():
        response = served.app.do_request(request, status=None, expect_errors=True)
    assert_error(response, 413)
    assert stream.tell() == DEFAULT_MAX_BODY_BYTES + 1


def test_a_chunked_body_within_the_limit_is_accepted(
    served: Served, world: World, credentials: dict[str, str]
) -> None:
    body = json.dumps({"contributor_id": world.ann, "type": "comment"}).encode()
    request = Hostile("POST", C, 201, body, JSON, chunked=True).request({}, credentials)
    response = served.app.do_request(request, status=201)
    assert response.json["type"] == "comment"


def test_a_body_just_at_the_limit_is_read(served: Served, world: World) -> None:
    """The limit is inclusive: a body of exactly that size gets through to validation."""
    body = '{"reputation": 1, "x": "' + "x" * (DEFAULT_MAX_BODY_BYTES - 30)
    body = body + " " * (DEFAULT_MAX_BODY_BYTES - len(body) - 2) + '"}'
    assert len(body) == DEFAULT_MAX_BODY_BYTES
    with served.unchanged():
        response = served.app.post(U, body, content_type=JSON, status=400)
    assert_error(response, 400, location="body")
