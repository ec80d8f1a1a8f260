"""A change of a contract's parameters made in one server process applies in the others
from their next action on, and a contract made over HTTP is served by all, without a
restart (within a second: :data:`~backfeed_api.domain.catalog.REFRESH_SECONDS`): two
gunicorn servers on one PostgreSQL database, each of which has already served
the contract under its first version. Then ``backfeed check`` finds the books balanced.
"""

from __future__ import annotations

import time

import pytest

from backfeed_api.domain.catalog import REFRESH_SECONDS

from .servers import Server, admin_session, backfeed

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

TIMEOUT = 10.0


def served_within(session, url: str, seconds: float):
    """The first answer to ``GET url`` that is not a 404, asking until ``seconds`` have
    passed (a process looks for contracts made by others once every
    :data:`~backfeed_api.domain.catalog.REFRESH_SECONDS`); the last answer otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        response = session.get(url, timeout=TIMEOUT)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def fee_paid(server: Server, session, author: int) -> float:
    """The tokens ``author`` paid for a new article sent to ``server``."""
    before = session.get(f"{server.url}/example/users/{author}", timeout=TIMEOUT).json()
    response = session.post(
        f"{server.url}/example/contributions", json={"contributor_id": author}, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text
    after = session.get(f"{server.url}/example/users/{author}", timeout=TIMEOUT).json()
    return before["tokens"] - after["tokens"]


def test_a_change_in_one_process_applies_in_every_other(servers) -> None:
    first, second = servers(2)
    with admin_session() as session:
        author = session.post(
            f"{first.url}/example/users", json={"tokens": 100}, timeout=TIMEOUT
        ).json()["id"]
        assert [fee_paid(s, session, author) for s in (first, second)] == [1.0, 1.0]
        changed = session.patch(
            f"{first.url}/example", json={"parameters": {"article.fee": 3}}, timeout=TIMEOUT
        )
        assert changed.status_code == 200, changed.text
        assert session.get(f"{second.url}/example", timeout=TIMEOUT).json()["version"] == 2
        assert [fee_paid(s, session, author) for s in (second, first)] == [3.0, 3.0]
        made = session.put(
            f"{second.url}/guild",
            json={"kind": "example", "parameters": {"article.fee": 2}},
            timeout=TIMEOUT,
        )
        assert made.status_code == 201, made.text
        served = served_within(session, f"{first.url}/guild", REFRESH_SECONDS + 1)
        assert served.status_code == 200
        assert served.json()["types"]["article"]["fee"] == 2
        listed = session.get(f"{first.url}/", timeout=TIMEOUT).json()["contracts"]
        assert "guild" in {contract["name"] for contract in listed}
    checked = backfeed("check", first.ini)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "guild" in checked.stdout
