"""The ``code`` of the error document: every code of :data:`backfeed_api.errors.CODES` is
answered by some request, with its status, and the service answers no other
(``assert_error`` in ``tests/api/conftest.py`` checks every error of every test against the
table, ``/__api__`` lists them as the enum the schemathesis run checks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import OperationalError
from webtest import TestResponse

from backfeed_api.api.views.events import WaitingSlots
from backfeed_api.errors import CODES, ENGINE_REFUSALS, STATUS_CODES, ClientError, error_body
from backfeed_api.settings import REPLAYS_MAX_QUEUED
from protocol.errors import ActionError, AllowanceExceeded

from ..conftest import issue_token
from .conftest import Served, assert_error

U, C, E = "/example/users", "/example/contributions", "/example/evaluations"
NO_TOKEN = {"HTTP_AUTHORIZATION": ""}
PASSWORD = "a long secret of hers"
NO_SLOT = WaitingSlots(total=1, per_client=1)
NO_SLOT.take("another client")  # every permit to wait taken
NO_SHARE = WaitingSlots(total=2, per_client=1)
NO_SHARE.take("settings")  # the development token's share taken


def fail_with(exc: Exception) -> Callable:
    """A stand-in for a domain function that raises ``exc``."""

    def failing(*args, **kwargs):
        raise exc

    return failing


def vote(served: Served, evaluator: int, contribution: int, value: float) -> TestResponse:
    body = {"evaluator_id": evaluator, "contribution_id": contribution, "value": value}
    return served.app.post_json(E, body, expect_errors=True)


def too_many_changes(served: Served) -> TestResponse:
    ann, bob = served.api.user()["id"], served.api.user(reputation=5)["id"]
    article = served.api.contribution(ann)["id"]
    for value in (1, 0, 1, 0, 1, 0):  # the first vote and max_vote_changes (5) changes
        served.api.vote(bob, article, value)
    return vote(served, bob, article, 1)


def failed_logins(served: Served) -> TestResponse:
    served.api.user(username="tess", password=PASSWORD)
    wrong = {"username": "tess", "password": "a guess"}
    for _ in range(20):  # far more than the limits of failures allow
        response = served.app.post_json(
            "/example/auth", wrong, extra_environ=NO_TOKEN, expect_errors=True
        )
        if response.status_int != 401:
            break
    return response


def key_reused(served: Served) -> TestResponse:
    headers = {"Idempotency-Key": "codes-reused"}
    served.app.post_json(U, {"reputation": 1}, headers=headers, status=201)
    return served.app.post_json(U, {"reputation": 2}, headers=headers, expect_errors=True)


def username_taken(served: Served) -> TestResponse:
    served.api.user(username="uma", password=PASSWORD)
    body = {"username": "uma", "password": PASSWORD}
    return served.app.post_json(U, body, expect_errors=True)


def read_token_writes(served: Served) -> TestResponse:
    token = issue_token(served.db, "example", "read")
    headers = {"Authorization": f"Bearer {token}"}
    return served.app.post_json(U, {}, headers=headers, expect_errors=True)


def own_vote(served: Served) -> TestResponse:
    ann = served.api.user()["id"]
    return vote(served, ann, served.api.contribution(ann)["id"], 1)


def unknown_type(served: Served) -> TestResponse:
    body = {"contributor_id": served.api.user()["id"], "type": "video"}
    return served.app.post_json(C, body, expect_errors=True)


def value_outside_set(served: Served) -> TestResponse:
    ann = served.api.user()["id"]
    return vote(served, ann, served.api.contribution(ann)["id"], 2)


def too_poor(served: Served) -> TestResponse:
    body = {"contributor_id": served.api.user(tokens=0.05)["id"], "type": "comment"}
    return served.app.post_json(C, body, expect_errors=True)


def too_rich(served: Served) -> TestResponse:
    """A user whose tokens alone are the limit, in a contract whose total is above 0."""
    served.api.user()
    return served.app.post_json(U, {"tokens": 1e15}, expect_errors=True)


def wrong_password(served: Served) -> TestResponse:
    body = {"username": "nobody", "password": "a guess"}
    return served.app.post_json("/example/auth", body, extra_environ=NO_TOKEN, status=401)


def too_large(served: Served) -> TestResponse:
    body = b"{" + b" " * 2**17 + b"}"
    return served.app.post(U, body, content_type="application/json", expect_errors=True)


def text_body(served: Served) -> TestResponse:
    return served.app.post(U, "reputation=1", content_type="text/plain", expect_errors=True)


def fresh_vote(served: Served) -> TestResponse:
    """A first vote on another user's contribution: nothing refuses it but a patch."""
    author, voter = served.api.user()["id"], served.api.user(reputation=5)["id"]
    return vote(served, voter, served.api.contribution(author)["id"], 1)


def full_replay_queue(served: Served) -> TestResponse:
    """More replays of a contract than may wait (``backfeed.replays.max_queued``)."""
    for _ in range(REPLAYS_MAX_QUEUED.default + 1):
        response = served.app.post_json("/dmag/replays", {"parameters": {}}, expect_errors=True)
        if response.status_int != 202:
            break
    return response


def post(path: str, body: dict, **headers: str) -> Callable[[Served], TestResponse]:
    return lambda served: served.app.post_json(path, body, headers=headers, expect_errors=True)


def put(path: str, body: dict) -> Callable[[Served], TestResponse]:
    return lambda served: served.app.put_json(path, body, expect_errors=True)


def get(path: str) -> Callable[[Served], TestResponse]:
    return lambda served: served.app.get(path, expect_errors=True)


def failing_user_creation(exc: Exception) -> tuple[str, Callable]:
    return "backfeed_api.domain.users.create_user", fail_with(exc)


# code → a request that gets it; the patches, (target, exception), make a request fail there.
TRIGGERS: dict[str, Callable[[Served], TestResponse]] = {
    "invalid": get(f"{U}?foo=1"),
    "missing": post(E, {"evaluator_id": 1, "contribution_id": 1}),
    "unknown_user": post(U, {"referrer_id": 10**6}),
    "unknown_contribution": lambda s: vote(s, s.api.user()["id"], 10**6, 1),
    "unknown_contribution_type": unknown_type,
    "invalid_evaluation_value": value_outside_set,
    "insufficient_tokens": too_poor,
    "unknown_contract_kind": put("/newer", {"kind": "no-such-kind"}),
    "invalid_parameter": lambda s: s.app.patch_json(
        "/example", {"parameters": {"nope": 1}}, expect_errors=True
    ),
    "contract_exists": put("/example", {"kind": "dmag"}),
    "username_taken": username_taken,
    "refused": post(U, {}),
    "unauthorized": post(U, {}, Authorization="Bearer not-a-token"),
    "wrong_credentials": wrong_password,
    "forbidden": read_token_writes,
    "self_evaluation_refused": own_vote,
    "not_found": get("/nope"),
    "method_not_allowed": lambda s: s.app.delete(U, expect_errors=True),
    "vote_changes_exhausted": too_many_changes,
    "balance_limit_exceeded": too_rich,
    "idempotency_key_in_use": post(U, {}, **{"Idempotency-Key": "codes-in-use"}),
    "idempotency_key_reused": key_reused,
    "body_too_large": too_large,
    "unsupported_media_type": text_body,
    "rate_limited": failed_logins,
    "internal": post(U, {}),
    "unavailable": post(U, {}),
    "webhook_target_refused": post("/example/webhooks", {"url": "ftp://127.0.0.1/hook"}),
    "too_many_waiting": get("/example/events?after=1000000&wait=1"),
    "too_many_waiting_per_client": get("/example/events?after=1000000&wait=1"),
    "batch_refused": post(
        f"{E}/batch",
        {"evaluations": [{"evaluator_id": 10**6, "contribution_id": 10**6, "value": 1}]},
    ),
    "allowance_exceeded": fresh_vote,
    "replay_queue_full": full_replay_queue,
}
PATCHES: dict[str, tuple[str, object]] = {
    "refused": failing_user_creation(ActionError("a plugin's own refusal")),
    "internal": failing_user_creation(RuntimeError("injected")),
    "unavailable": failing_user_creation(
        OperationalError("SELECT 1", {}, Exception("the server is gone"))
    ),
    "idempotency_key_in_use": ("backfeed_api.pipeline.idempotency._try_lock", lambda *a: False),
    "too_many_waiting": ("backfeed_api.api.views.events.waiting_slots", lambda request: NO_SLOT),
    "too_many_waiting_per_client": (
        "backfeed_api.api.views.events.waiting_slots",
        lambda request: NO_SHARE,
    ),
    # the allowance's own counting is tested in test_allowances.py, on contracts that set one
    "allowance_exceeded": (
        "protocol.contracts.base.ContractRules.check_allowances",
        fail_with(AllowanceExceeded("one evaluation a day", "evaluations_per_day", 60)),
    ),
}


def test_every_code_has_a_request_that_gets_it() -> None:
    assert set(TRIGGERS) == set(CODES), "give each code of CODES a request in TRIGGERS"


@pytest.mark.parametrize("code", list(CODES))
def test_the_code_is_answered_with_its_status(
    code: str, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    if code in PATCHES:
        target, replacement = PATCHES[code]
        monkeypatch.setattr(target, replacement)
    response = TRIGGERS[code](served)
    errors = assert_error(response, CODES[code].status)
    assert code in {error["code"] for error in errors}, errors


def test_a_client_error_must_have_a_documented_code() -> None:
    with pytest.raises(TypeError, match="not one of CODES"):
        type("Undocumented", (ClientError,), {"code": "no_such_code"})


def test_the_tables_of_codes_name_documented_codes_only() -> None:
    named = {code for _, code in ENGINE_REFUSALS.values()} | set(STATUS_CODES.values())
    assert named <= set(CODES)
    assert all(CODES[code].status == status for status, code in STATUS_CODES.items())
    assert all(CODES[code].status == status for status, code in ENGINE_REFUSALS.values())


def test_an_undocumented_code_is_never_sent() -> None:
    with pytest.raises(ValueError, match="undocumented error code"):
        error_body("no_such_code", "body", "", "a refusal nobody documented")
