"""``backfeed replay <ini>``: the report, the users' CSV, the plot, and its usage errors, on
a database made by ``initdb`` and given a small history through the API."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from matplotlib.image import imread
from webtest import TestApp

from backfeed_api import main

from ..conftest import ADMIN_TOKEN, bearer
from .conftest import Runner


@pytest.fixture
def ini(tmp_path: Path, backfeed: Runner, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A deployment of ``example`` with three users, two articles and some votes."""
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    path = tmp_path / "replay.ini"
    path.write_text(
        f"[app:main]\nuse = egg:backfeed-api\nsqlalchemy.url = {url}\n"
        "backfeed.contracts = example\n",
        encoding="utf-8",
    )
    assert backfeed("initdb", path).code == 0
    wsgi = main(
        {},
        **{
            "sqlalchemy.url": url,
            "backfeed.contracts": "example",
            "backfeed.dev_admin_token": ADMIN_TOKEN,
        },
    )
    api = TestApp(wsgi, extra_environ={"HTTP_AUTHORIZATION": bearer(ADMIN_TOKEN)["Authorization"]})
    for reputation in (10, 40, 25):
        api.post_json("/example/users", {"reputation": reputation, "tokens": 10})
    for author in (1, 2):
        api.post_json("/example/contributions", {"contributor_id": author})
    for evaluator, contribution, value in ((2, 1, 1), (3, 1, 1), (1, 2, 0), (3, 2, 1), (3, 1, 0)):
        api.post_json(
            "/example/evaluations",
            {"evaluator_id": evaluator, "contribution_id": contribution, "value": value},
        )
    yield path
    wsgi.registry["db_engine"].dispose()


def test_the_report_compares_actual_and_what_if(backfeed: Runner, ini: Path) -> None:
    outcome = backfeed("replay", ini, "--contract", "example", "--override", "article.stake=0.05")

    assert outcome.code == 0, outcome.err
    assert "contract example: 10 actions, 3 users; what if article.stake=0.05" in outcome.out
    assert "Gini of reputation" in outcome.out
    assert "users who gain most:" in outcome.out
    assert "refused under the new rules: 0 users, 0 contributions, 0 evaluations" in outcome.out


def test_without_overrides_the_csv_holds_the_actual_balances_twice(
    backfeed: Runner, ini: Path
) -> None:
    outcome = backfeed("replay", ini, "--contract", "example", "--csv", "-")

    assert outcome.code == 0, outcome.err
    rows = list(csv.DictReader(io.StringIO(outcome.out)))
    assert [row["user"] for row in rows] == ["1", "2", "3"]
    for row in rows:
        assert float(row["what_if_reputation"]) == pytest.approx(
            float(row["actual_reputation"]), rel=1e-9
        )
        assert float(row["what_if_tokens"]) == pytest.approx(float(row["actual_tokens"]))


def test_refusals_are_in_the_json_report(backfeed: Runner, ini: Path, tmp_path: Path) -> None:
    plot = tmp_path / "what-if.png"

    outcome = backfeed(
        "replay",
        ini,
        "--contract",
        "example",
        "--override",
        "max_vote_changes=0",
        "--json",
        "--plot",
        plot,
    )

    assert outcome.code == 0, outcome.err
    report = json.loads(outcome.out)
    assert report["refused"]["counts"] == {"users": 0, "contributions": 0, "evaluations": 1}
    (refusal,) = report["refused"]["first"]
    assert refusal["kind"] == "evaluation"
    assert "max_vote_changes = 0" in refusal["reason"]
    assert imread(plot).shape[:2] == (500, 1000)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--contract", "nowhere"), "no contract 'nowhere'"),
        (("--contract", "example", "--override", "stake=1"), "name it <type>.stake"),
        (("--contract", "example", "--override", "video.fee=1"), "the types are article, comment"),
        (("--contract", "example", "--override", "beta"), "KEY=VALUE"),
        (("--contract", "example", "--json", "--csv", "-"), "standard output"),
    ],
)
def test_usage_errors(backfeed: Runner, ini: Path, arguments: tuple, message: str) -> None:
    outcome = backfeed("replay", ini, *arguments)

    assert outcome.code == 2
    assert message in outcome.err
