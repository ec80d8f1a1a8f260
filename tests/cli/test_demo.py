"""``backfeed demo`` and ``backfeed.demo``: a realistic community, seeded through the domain,
whose users can log in, and whose books ``backfeed check`` finds balanced."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api import main
from backfeed_api.models import Contribution, Evaluation, Event, User

from .conftest import Runner

CONTRACTS = "example dmag"
LOGIN = re.compile(r"^  user (\d+): (demo\d+) / (\S+)$", re.MULTILINE)


@pytest.fixture
def ini(tmp_path: Path, backfeed: Runner, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    path = tmp_path / "demo.ini"
    path.write_text(
        f"[app:main]\nuse = egg:backfeed-api\nsqlalchemy.url = sqlite:///{tmp_path}/demo.sqlite\n"
        f"backfeed.contracts = {CONTRACTS}\n",
        encoding="utf-8",
    )
    assert backfeed("initdb", path).code == 0
    return path


def rows(ini: Path, query) -> list:
    engine = sa.create_engine(f"sqlite:///{ini.parent}/demo.sqlite")
    try:
        with engine.connect() as connection:
            return list(connection.execute(query))
    finally:
        engine.dispose()


def assert_one_event_per_action(ini: Path) -> None:
    """Each user, contribution and recorded vote has its event, in the order they were made,
    with its answer's id and the balances it moved."""
    made = {
        "user.created": rows(ini, sa.select(User.contract_id, User.id)),
        "contribution.created": rows(ini, sa.select(Contribution.contract_id, Contribution.id)),
        "evaluation.created": rows(ini, sa.select(Evaluation.contract_id, Evaluation.id)),
    }
    written = rows(ini, sa.select(Event.contract_id, Event.type, Event.data).order_by(Event.id))
    for kind, expected in made.items():
        seen = [(c, data["id"]) for c, t, data in written if t == kind]
        assert sorted(seen) == sorted(tuple(row) for row in expected), kind
        for contract_id in {c for c, _ in seen}:
            ids = [i for c, i in seen if c == contract_id]
            assert ids == sorted(ids), kind
    openings = [data["changes"] for _, t, data in written if t == "user.created"]
    assert all(change["tokens_delta"] == 100 for (change,) in openings)


def test_demo_seeds_a_community_whose_books_balance(ini: Path, backfeed: Runner) -> None:
    done = backfeed("demo", ini, "--contract", "dmag", "--users", "8", "--seed", "4")
    assert done.code == 0, done.err
    logins = LOGIN.findall(done.out)
    assert [name for _, name, _ in logins] == [f"demo{n}" for n in range(1, 9)]
    assert len({password for _, _, password in logins}) == 8
    assert backfeed("check", ini).code == 0
    assert_one_event_per_action(ini)
    types = {row.type for row in rows(ini, sa.select(Contribution.type))}
    assert types == {"article", "comment"}  # every type of dmag
    votes = rows(ini, sa.select(Evaluation.value, Evaluation.active))
    assert {value for value, _ in votes} == {0.0, 1.0}  # agreement and dissent
    assert any(not active for _, active in votes)  # a few changes of mind
    referred = rows(ini, sa.select(User.referrer_id).where(User.referrer_id.is_not(None)))
    assert referred
    user_id, username, password = logins[0]
    wsgi = main(
        {},
        **{
            "sqlalchemy.url": f"sqlite:///{ini.parent}/demo.sqlite",
            "backfeed.contracts": CONTRACTS,
        },
    )
    try:
        login = TestApp(wsgi).post_json(
            "/dmag/auth", {"username": username, "password": password}, status=201
        )
        assert login.json["user_id"] == int(user_id)
        feed = TestApp(wsgi).get("/dmag/events", params={"limit": 1000}).json
        evaluations = feed["items"][-1]
        assert evaluations["type"] == "evaluation.created"
        answer = TestApp(wsgi).get(f"/dmag/evaluations/{evaluations['data']['id']}").json
        assert {k: evaluations["data"][k] for k in answer} == answer
    finally:
        wsgi.registry["db_engine"].dispose()


def test_demo_again_adds_more_users(ini: Path, backfeed: Runner) -> None:
    assert backfeed("demo", ini, "--users", "3").code == 0
    again = backfeed("demo", ini, "--users", "3")
    assert again.code == 0, again.err
    assert [name for _, name, _ in LOGIN.findall(again.out)] == ["demo4", "demo5", "demo6"]
    assert backfeed("check", ini).code == 0
    assert_one_event_per_action(ini)


@pytest.mark.parametrize("arguments", [("--users", "1"), ("--contract", "nope"), ("--users", "x")])
def test_usage_errors(ini: Path, backfeed: Runner, arguments) -> None:
    done = backfeed("demo", ini, *arguments)
    assert done.code == 2
    assert "Traceback" not in done.err


def test_the_setting_seeds_empty_contracts_once(ini: Path, backfeed: Runner) -> None:
    url = f"sqlite:///{ini.parent}/demo.sqlite"
    settings = {"sqlalchemy.url": url, "backfeed.contracts": CONTRACTS, "backfeed.demo": "true"}
    main({}, **settings).registry["db_engine"].dispose()
    counts = dict(
        rows(ini, sa.select(User.contract_id, sa.func.count()).group_by(User.contract_id))
    )
    assert sorted(counts.values()) == [15, 15]
    main({}, **settings).registry["db_engine"].dispose()  # not empty any more: nothing added
    assert len(rows(ini, sa.select(User.id))) == 30
    assert backfeed("check", ini).code == 0
    assert_one_event_per_action(ini)


def test_development_ini_turns_it_on() -> None:
    """On by default, and off with ``pserve development.ini demo=false``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(__file__).resolve().parents[2] / "development.ini", encoding="utf-8")
    assert parser["DEFAULT"]["demo"] == "true"
    assert parser["app:main"]["backfeed.demo"] == "%(demo)s"
