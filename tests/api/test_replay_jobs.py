"""``/{contract}/replays``: what-if replays as jobs of the worker, over HTTP.

The worker's replay job is called here in the test's process, on the application's database
and clock (:func:`worker`), so each state is seen as a client sees it: queued, running (with
its progress), done (the report, equal to ``backfeed replay --json``'s, with its CSV and
plot) and failed. Claims are checked one by one through the domain: one job running per
contract, a lease that runs out, a job given up, expiry by the service's clock.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from webtest import TestApp

from backfeed_api.api.schemas import MAX_OVERRIDES
from backfeed_api.cli import main as backfeed_main
from backfeed_api.clock import iso
from backfeed_api.domain import replay_jobs
from backfeed_api.models import ReplayJob
from backfeed_api.settings import replay_settings
from backfeed_api.worker import context_for
from backfeed_api.worker.replays import Heartbeat, ReplayRunner
from protocol import ConfigurationError

from ..conftest import TEST_CONTRACTS, Clock, bearer, count, issue_token
from .conftest import assert_error

STAKE = {"article.stake": 0.05}
LEASE_60 = replay_settings({"backfeed.replays.lease_seconds": "60"})
LEASE_HOUR = replay_settings({"backfeed.replays.lease_seconds": "3600"})
QUICK_BEATS = {"backfeed.replays.lease_seconds": "0.15"}
"""A lease short enough that the heartbeat beats every 0.05 s (the tests' clock stands still,
so it never runs out by itself)."""


def worker(app: TestApp, **settings: str) -> ReplayRunner:
    """The worker's replay job on the application's database, clock and settings."""
    registry = app.app.registry
    return ReplayRunner(context_for(registry, {**registry.settings, **settings}))


def history(app: TestApp, contract: str = "example") -> list[int]:
    """A small history: three users, two articles, five votes; the users' ids."""
    users = [
        app.post_json(f"/{contract}/users", {"reputation": r, "tokens": 10}).json["id"]
        for r in (10, 40, 25)
    ]
    works = [
        app.post_json(f"/{contract}/contributions", {"contributor_id": u}).json["id"]
        for u in users[:2]
    ]
    for evaluator, work, value in ((1, 0, 1), (2, 0, 1), (0, 1, 0), (2, 1, 1), (2, 0, 0)):
        body = {"evaluator_id": users[evaluator], "contribution_id": works[work], "value": value}
        app.post_json(f"/{contract}/evaluations", body)
    return users


def ask(app: TestApp, parameters: dict, contract: str = "example") -> dict:
    """``POST /{contract}/replays``, answered 202; the job."""
    response = app.post_json(f"/{contract}/replays", {"parameters": parameters}, status=202)
    assert response.headers["Location"] == response.json["url"]
    return response.json


def drain(job: Callable[[], bool]) -> None:
    """Call the job until it finds no work."""
    for _ in range(100):
        if not job():
            return
    raise AssertionError("the job never ran out of work")


def test_a_replay_is_queued_then_done_with_the_clis_report(
    app: TestApp, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(app)
    queued = ask(app, STAKE)
    assert queued["status"] == "queued"
    assert queued["progress"] == 0
    assert queued["parameters"] == STAKE
    assert queued["result"] is None
    assert queued["started_at"] is None
    assert app.get(queued["url"]).json["status"] == "queued"

    drain(worker(app))

    done = app.get(queued["url"]).json
    assert done["status"] == "done"
    assert done["progress"] == 1
    assert done["error"] is None
    assert done["started_at"] <= done["finished_at"] < done["expires_at"]
    result = dict(done["result"])
    links = result.pop("links")
    ini = tmp_path / "replay.ini"
    contracts = "".join(f"{key} = {value}\n" for key, value in TEST_CONTRACTS.items())
    ini.write_text(
        f"[app:main]\nuse = egg:backfeed-api\nsqlalchemy.url = {database_url}\n{contracts}",
        encoding="utf-8",
    )
    capsys.readouterr()
    code = backfeed_main(
        ["replay", str(ini), "--contract", "example", "--override", "article.stake=0.05", "--json"]
    )
    assert code == 0
    assert result == json.loads(capsys.readouterr().out)
    assert result["losers"] or result["gainers"]

    users = app.get(links["users_csv"], status=200)
    assert users.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(users.text)))
    assert [int(row["user"]) for row in rows] == [1, 2, 3]
    total = sum(float(row["what_if_reputation"]) for row in rows)
    assert total == pytest.approx(result["what_if"]["total_reputation"])
    plot = app.get(links["plot"], status=200)
    assert plot.headers["Content-Type"] == "image/png"
    assert plot.body.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_running_replay_shows_its_progress(
    app: TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(app)
    job = ask(app, STAKE)
    seen: list[dict] = []
    real = replay_jobs.compare

    def watched(history, rules, overrides, on_progress, every):
        on_progress(5, 10)  # halfway: the heartbeat writes it, then it is looked at
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen.append(app.get(job["url"]).json)
            if seen[-1]["progress"] == 0.5:
                break
            time.sleep(0.02)
        return real(history, rules, overrides, on_progress, every)

    monkeypatch.setattr(replay_jobs, "compare", watched)
    drain(worker(app, **QUICK_BEATS))

    running = seen[-1]
    assert running["status"] == "running"
    assert running["progress"] == 0.5
    assert running["started_at"] is not None
    assert running["finished_at"] is None
    assert running["result"] is None
    assert {state["status"] for state in seen} == {"running"}
    assert app.get(job["url"]).json["status"] == "done"


def test_a_worker_stops_a_replay_whose_lease_it_lost(
    app: TestApp, db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(app)
    job = ask(app, STAKE)
    real = replay_jobs.compare
    went_on: list[bool] = []

    def overtaken(history, rules, overrides, on_progress, every):
        with db.begin() as connection:  # another worker took the job over
            connection.execute(sa.update(ReplayJob).values(lease_id="another worker's"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            on_progress(1, 2)  # raises once the heartbeat has found the lease lost
            time.sleep(0.02)
        went_on.append(True)
        return real(history, rules, overrides, on_progress, every)

    monkeypatch.setattr(replay_jobs, "compare", overtaken)
    assert worker(app, **QUICK_BEATS)()
    assert not went_on
    taken = app.get(job["url"]).json
    assert taken["status"] == "running"  # the other worker's, untouched by the first
    assert taken["result"] is None
    assert taken["error"] is None


def test_a_replay_runs_under_the_stored_rules_of_a_contract_made_over_http(
    app: TestApp,
) -> None:
    # The worker's settings know nothing of a contract made over HTTP: its rules come from
    # its stored version, as they do for a contract the settings no longer declare.
    app.put_json("/made", {"kind": "example", "parameters": {"beta": 0.7}}, status=201)
    history(app, "made")
    job = ask(app, STAKE, "made")
    dropped = ask(app, {})
    drain(worker(app, **{"backfeed.contracts": "dmag rewarded:example burning:example"}))
    done = app.get(job["url"]).json
    assert (done["status"], done["error"]) == ("done", None)
    assert done["result"]["users"] == 3
    assert app.get(dropped["url"]).json["status"] == "done"


def test_parameters_a_version_refuses_fail_the_replay_with_the_reason(
    app: TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The queue checks the parameters against the version in force; the replay applies them
    # on top of every version, one of which may refuse them.
    job = ask(app, {})

    def refused(*_arguments):
        raise ConfigurationError("beta must be at most 1 in version 1")

    monkeypatch.setattr(replay_jobs, "compare", refused)
    drain(worker(app))
    failed = app.get(job["url"]).json
    assert (failed["status"], failed["error"]) == ("failed", "beta must be at most 1 in version 1")


def test_a_replay_that_breaks_fails_without_saying_how(
    app: TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = ask(app, {})

    def broken(*_arguments):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(replay_jobs, "compare", broken)
    drain(worker(app))
    failed = app.get(job["url"]).json
    assert failed["status"] == "failed"
    assert "secret" not in failed["error"]
    assert "unexpectedly" in failed["error"]


def test_rules_that_refuse_everything_are_a_report_of_refusals(app: TestApp) -> None:
    history(app)
    job = ask(app, {"article.fee": 1e9})
    drain(worker(app))
    done = app.get(job["url"]).json
    assert done["status"] == "done"
    refused = done["result"]["refused"]
    assert refused["counts"] == {"users": 0, "contributions": 2, "evaluations": 5}
    assert len(refused["first"]) == 7


def claim(
    db: sa.Engine, clock: Clock, lease: float = 60, **settings: str
) -> replay_jobs.Claim | None:
    """One claim, as a worker with ``settings`` makes it."""
    with Session(db) as session, session.begin():
        options = replay_settings({"backfeed.replays.lease_seconds": str(lease), **settings})
        return replay_jobs.claim(session, clock(), options)


def test_one_replay_runs_per_contract_and_a_lost_lease_is_taken_again(
    app: TestApp, db: sa.Engine, clock: Clock
) -> None:
    first, second = ask(app, {}), ask(app, {})
    other = ask(app, {}, contract="dmag")

    assert claim(db, clock).job_id == first["id"]
    assert claim(db, clock).job_id == other["id"]  # not example's second
    assert claim(db, clock) is None
    assert app.get(first["url"]).json["status"] == "running"
    assert app.get(second["url"]).json["status"] == "queued"

    clock.advance(seconds=61)  # the workers died: their leases run out
    again = claim(db, clock)
    assert again.job_id == first["id"]  # taken up again, before the next one
    assert claim(db, clock).job_id == other["id"]
    assert claim(db, clock) is None
    with Session(db) as session:
        assert session.get(ReplayJob, first["id"]).attempts == 2


def test_a_job_that_keeps_killing_its_workers_is_given_up(
    app: TestApp, db: sa.Engine, clock: Clock
) -> None:
    job = ask(app, {})
    for _ in range(replay_jobs.MAX_ATTEMPTS):
        assert claim(db, clock, lease=1).job_id == job["id"]
        clock.advance(seconds=2)
    assert claim(db, clock) is None
    failed = app.get(job["url"]).json
    assert failed["status"] == "failed"
    assert "3 times" in failed["error"]


def test_a_job_given_up_ends_as_any_other_job_ends(
    make_app: Callable[..., TestApp], clock: Clock
) -> None:
    """Kept ``keep_hours`` from when it was given up, and counted with the ended jobs that
    ``max_kept`` bounds."""
    settings = {"backfeed.replays.keep_hours": "2", "backfeed.replays.max_kept": "1"}
    app = make_app(**settings)
    db = app.app.registry["db_engine"]
    first = ask(app, {})
    drain(worker(app))
    job = ask(app, {})
    for _ in range(replay_jobs.MAX_ATTEMPTS):
        assert claim(db, clock, **settings).job_id == job["id"]
        clock.advance(minutes=1, seconds=1)
    assert claim(db, clock, **settings) is None
    failed = app.get(job["url"]).json
    assert failed["status"] == "failed"
    assert failed["finished_at"] == iso(clock())
    assert failed["expires_at"] == iso(clock() + timedelta(hours=2))
    assert_error(app.get(first["url"], status=404), 404)  # the older ended job is gone
    assert count(db, ReplayJob) == 1


def test_a_worker_that_lost_its_lease_records_nothing(
    app: TestApp, db: sa.Engine, clock: Clock
) -> None:
    job = ask(app, {})
    held = claim(db, clock, lease=1)
    clock.advance(seconds=2)
    taken = claim(db, clock)
    outcome = replay_jobs.Outcome({}, b"", b"")
    with Session(db) as session, session.begin():
        assert not replay_jobs.heartbeat(session, held, 0.5, clock(), LEASE_60)
        assert not replay_jobs.finish(session, held, clock(), replay_settings({}), outcome)
        assert replay_jobs.heartbeat(session, taken, 0.5, clock(), LEASE_60)
    assert app.get(job["url"]).json["progress"] == 0.5


@pytest.mark.parametrize(("lease", "interval"), [("60", 20.0), ("1.5", 0.5), ("3600", 1200.0)])
def test_the_heartbeat_beats_three_times_a_lease(
    app: TestApp, db: sa.Engine, clock: Clock, lease: str, interval: float
) -> None:
    """Often enough that two beats may fail and the lease still hold; no more often, so
    that a long replay costs a write every third of a lease."""
    ask(app, {})
    runner = worker(app, **{"backfeed.replays.lease_seconds": lease})
    assert Heartbeat(runner, claim(db, clock, float(lease))).interval == interval


def test_a_lapsed_lease_is_not_renewed_even_if_nobody_took_it(
    app: TestApp, db: sa.Engine, clock: Clock
) -> None:
    job = ask(app, {})
    held = claim(db, clock, lease=1)
    clock.advance(seconds=2)  # another worker may claim it from now on
    with Session(db) as session, session.begin():
        assert not replay_jobs.heartbeat(session, held, 0.5, clock(), LEASE_60)
    assert app.get(job["url"]).json["progress"] == 0.0
    assert claim(db, clock).job_id == job["id"]


def test_a_worker_stops_a_replay_whose_lease_ran_out(
    app: TestApp, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(app)
    job = ask(app, STAKE)
    real = replay_jobs.compare
    went_on: list[bool] = []

    def stalled(history, rules, overrides, on_progress, every):
        monkeypatch.setattr(replay_jobs, "compare", real)  # the next run goes well
        clock.advance(seconds=61)  # the worker stalled past its lease
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            on_progress(1, 2)  # raises once the heartbeat has failed to renew the lease
            time.sleep(0.02)
        went_on.append(True)

    monkeypatch.setattr(replay_jobs, "compare", stalled)
    assert worker(app, **QUICK_BEATS)()
    assert not went_on
    stopped = app.get(job["url"]).json
    assert (stopped["status"], stopped["result"], stopped["error"]) == ("running", None, None)
    assert worker(app)()  # another worker takes it up and runs it
    assert app.get(job["url"]).json["status"] == "done"


def test_a_replay_running_too_long_is_failed_and_frees_the_queue(
    app: TestApp, db: sa.Engine, clock: Clock
) -> None:
    """A hung replay whose heartbeat goes on: past ``max_run_seconds`` its next beat fails
    it, and the contract's next job runs."""
    first, second = ask(app, {}), ask(app, {})
    settings = {"backfeed.replays.max_run_seconds": "600"}
    options = replay_settings({**settings, "backfeed.replays.lease_seconds": "120"})
    held = claim(db, clock, lease=120, **settings)
    for _ in range(9):  # beating for 9 minutes, no progress
        clock.advance(minutes=1)
        with Session(db) as session, session.begin():
            assert replay_jobs.heartbeat(session, held, 0.0, clock(), options)
    assert claim(db, clock, **settings) is None  # the queue waits on it
    clock.advance(minutes=1)
    with Session(db) as session, session.begin():
        assert not replay_jobs.heartbeat(session, held, 0.0, clock(), options)
    failed = app.get(first["url"]).json
    assert failed["status"] == "failed"
    assert "backfeed.replays.max_run_seconds" in failed["error"]
    assert failed["finished_at"] == iso(clock())
    assert claim(db, clock, **settings).job_id == second["id"]


def test_a_worker_stops_a_replay_that_runs_too_long(
    app: TestApp, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(app)
    job = ask(app, STAKE)
    went_on: list[bool] = []

    def hung(history, rules, overrides, on_progress, every):
        clock.advance(hours=1)  # the default bound
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            on_progress(0, 2)  # raises once the heartbeat has failed the job
            time.sleep(0.02)
        went_on.append(True)

    monkeypatch.setattr(replay_jobs, "compare", hung)
    assert worker(app, **QUICK_BEATS)()
    assert not went_on
    failed = app.get(job["url"]).json
    assert (failed["status"], failed["result"]) == ("failed", None)
    assert "longer than 3600 s" in failed["error"]


def test_replays_expire_from_when_they_end_and_the_worker_deletes_them(
    make_app: Callable[..., TestApp], clock: Clock
) -> None:
    app = make_app(**{"backfeed.replays.keep_hours": "2"})
    db = app.app.registry["db_engine"]
    first = ask(app, {})
    drain(worker(app))  # done now: kept 2 hours from now
    clock.advance(hours=1)
    second = ask(app, {})  # queued: kept until 2 hours after it ends, however long it waits
    assert app.get(second["url"]).json["expires_at"] is None
    clock.advance(hours=5)

    for path in ("", "/users.csv", "/plot.png"):
        assert_error(app.get(first["url"] + path, status=404), 404)
    assert app.get(second["url"]).json["status"] == "queued"
    assert [job["id"] for job in app.get("/example/replays").json["items"]] == [second["id"]]
    assert count(db, ReplayJob) == 2

    worker(app)()  # deletes the first, runs the second
    assert count(db, ReplayJob) == 1
    done = app.get(second["url"]).json
    assert done["status"] == "done"
    assert done["expires_at"] == iso(clock() + timedelta(hours=2))
    clock.advance(hours=2)
    assert_error(app.get(second["url"], status=404), 404)
    assert worker(app)()
    assert count(db, ReplayJob) == 0


def test_a_running_replay_never_expires(make_app: Callable[..., TestApp], clock: Clock) -> None:
    app = make_app(**{"backfeed.replays.keep_hours": "1"})
    db = app.app.registry["db_engine"]
    job = ask(app, {})
    held = claim(db, clock, lease=3600)
    clock.advance(minutes=59)
    with Session(db) as session, session.begin():
        assert replay_jobs.heartbeat(session, held, 0.5, clock(), LEASE_HOUR)
    clock.advance(minutes=30)  # running for 89 minutes, longer than it would be kept
    assert not worker(app)()  # nothing to delete, nothing to claim
    assert app.get(job["url"]).json["status"] == "running"
    outcome = replay_jobs.Outcome({}, b"", b"")
    with Session(db) as session, session.begin():
        assert replay_jobs.finish(session, held, clock(), replay_settings({}), outcome)
    assert app.get(job["url"]).json["status"] == "done"


def test_the_queue_of_a_contract_is_bounded(make_app: Callable[..., TestApp]) -> None:
    app = make_app(**{"backfeed.replays.max_queued": "2"})
    db = app.app.registry["db_engine"]
    ask(app, {}), ask(app, {})
    response = app.post_json("/example/replays", {"parameters": {}}, status=409)
    assert assert_error(response, 409)[0]["code"] == "replay_queue_full"
    assert count(db, ReplayJob) == 2
    ask(app, {}, contract="dmag")  # another contract's queue is its own
    drain(worker(app))
    ask(app, {})  # room again once they are done


def test_only_the_newest_ended_replays_are_kept(make_app: Callable[..., TestApp]) -> None:
    app = make_app(**{"backfeed.replays.max_kept": "2"})
    db = app.app.registry["db_engine"]
    jobs = []
    for _ in range(4):
        jobs.append(ask(app, {}))
        drain(worker(app, **{"backfeed.replays.max_kept": "2"}))
    waiting = ask(app, {})  # never counted among the ended
    assert [job["id"] for job in app.get("/example/replays").json["items"]] == [
        waiting["id"],
        jobs[3]["id"],
        jobs[2]["id"],
    ]
    assert count(db, ReplayJob) == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"parameters": {"nope": 1}}, "invalid_parameter"),
        ({"parameters": {"alpha": "0.7"}}, "invalid"),
        ({"parameters": {"alpha": None}}, "invalid"),
        ({"parameters": {"alpha": [0.7]}}, "invalid"),
        ({"parameters": {"article.stake": -1}}, "invalid_parameter"),
        ({"parameters": {"max_vote_changes": 1.5}}, "invalid_parameter"),
        ({"parameters": {"article.stake": 10**400}}, "invalid"),
        ({"parameters": {"article.stake": True}}, "invalid_parameter"),
        ({"parameters": {"a b": 1}}, "invalid"),
        ({"parameters": {"a.b.c": 1}}, "invalid"),
        # refused by the body's schema, before the engine (whose refusal is invalid_parameter)
        ({"parameters": {f"p{i}": 1 for i in range(MAX_OVERRIDES + 1)}}, "invalid"),
        ({"parameters": [["alpha", 0.7]]}, "invalid"),
        ({"parameters": "alpha=0.7"}, "invalid"),
        ({"parameters": {}, "top": 100}, "invalid"),
        ({}, "missing"),
    ],
)
def test_bad_parameters_queue_nothing(app: TestApp, db: sa.Engine, body: dict, code: str) -> None:
    response = app.post_json("/example/replays", body, status=400)
    assert assert_error(response, 400, location="body")[0]["code"] == code
    assert count(db, ReplayJob) == 0


def test_a_replay_of_another_contract_is_not_found(app: TestApp) -> None:
    job = ask(app, {})
    assert_error(app.get(f"/dmag/replays/{job['id']}", status=404), 404)
    assert_error(app.get(f"/dmag/replays/{job['id']}/users.csv", status=404), 404)


def test_the_outputs_of_a_replay_not_done_are_not_found(app: TestApp) -> None:
    job = ask(app, {})
    for path in ("/users.csv", "/plot.png"):
        assert_error(app.get(job["url"] + path, status=404), 404)


def test_only_the_contracts_admin_asks_or_reads(app: TestApp, db: sa.Engine) -> None:
    history(app)
    job = ask(app, {})
    user = bearer(issue_token(db, "example", "user", user_id=1))
    read = bearer(issue_token(db, "example", "read"))
    foreign = bearer(issue_token(db, "dmag", "admin"))
    for headers, status in ((user, 403), (read, 403), (foreign, 401)):
        app.post_json("/example/replays", {"parameters": {}}, headers=headers, status=status)
        app.get(job["url"], headers=headers, status=status)
        app.get(job["url"] + "/users.csv", headers=headers, status=status)
    assert count(db, ReplayJob) == 1
