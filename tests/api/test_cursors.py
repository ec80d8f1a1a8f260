"""``since_id`` and ``max_id`` on every list, and the links to the pages around a page:
``_meta.next``, ``_meta.prev`` and the ``Link`` header."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from webtest import TestApp

from ..conftest import issue_token
from .conftest import Api, assert_error


@pytest.fixture
def community(api: Api) -> dict[str, list[int]]:
    """Six users, five contributions, votes on them: the ids of each."""
    users = [api.user(tokens=20)["id"] for _ in range(6)]
    made = [api.contribution(users[i % 2])["id"] for i in range(5)]
    votes = [api.vote(users[2 + i % 4], made[i], i % 2)["id"] for i in range(5)]
    return {"users": users, "contributions": made, "evaluations": votes}


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@pytest.mark.parametrize("kind", ["users", "contributions", "evaluations"])
def test_since_id_and_max_id_are_exclusive_bounds(api: Api, community, kind: str) -> None:
    ids = community[kind]
    order = {"contributions": {"order_by": "time"}}.get(kind, {})
    path = f"/example/{kind}"
    assert api.ids(path, since_id=ids[1], **order) == ids[2:]
    assert api.ids(path, max_id=ids[3], **order) == ids[:3]
    assert api.ids(path, since_id=ids[0], max_id=ids[3], **order) == ids[1:3]
    assert api.get(path, since_id=ids[0], max_id=ids[3], **order)["_meta"]["total"] == 2
    assert api.ids(path, since_id=ids[-1], **order) == []
    assert api.ids(path, max_id=0, **order) == []
    assert api.ids(path, since_id=0, **order) == [i for i in ids if i > 0]


def test_windows_combine_with_filters_and_orders(api: Api, community) -> None:
    made, users = community["contributions"], community["users"]
    by_score = api.ids("/example/contributions", order_by="-score")
    windowed = api.ids("/example/contributions", order_by="-score", since_id=made[1])
    assert windowed == [i for i in by_score if i > made[1]]
    mine = api.ids("/example/contributions", contributor_id=users[0], max_id=made[4])
    assert sorted(mine) == [i for i in made[:4] if i % 2 == made[0] % 2]
    by_reputation = api.ids("/example/users", order_by="-reputation")
    assert api.ids("/example/users", order_by="-reputation", max_id=users[3]) == [
        i for i in by_reputation if i < users[3]
    ]
    votes = community["evaluations"]
    ones = api.ids("/example/evaluations", value=1, since_id=votes[0])
    assert ones == [v for i, v in enumerate(votes) if i % 2 == 1]


def test_a_history_window(api: Api, community) -> None:
    user = community["users"][2]
    path = f"/example/users/{user}/history"
    entries = api.ids(path, limit=1000)
    assert len(entries) >= 3
    middle = entries[1]
    assert api.ids(path, max_id=middle) == entries[2:]
    assert api.ids(path, since_id=middle) == entries[:1]
    assert api.ids(path, since_id=entries[-1], max_id=entries[0]) == entries[1:-1]
    page = api.get(path, since_id=entries[-1], max_id=entries[0], limit=1, start=1)
    assert [e["id"] for e in page["items"]] == entries[1:-1][1:2]
    assert page["_meta"]["total"] == len(entries) - 2


def test_login_tokens_window(app: TestApp, api: Api) -> None:
    password = "a long secret of hers"
    api.user(username="ann", password=password)
    tokens = [
        app.post_json("/example/auth", {"username": "ann", "password": password}).json
        for _ in range(3)
    ]
    headers = {"Authorization": f"Bearer {tokens[-1]['token']}"}
    listed = app.get(
        "/example/auth/tokens", {"since_id": tokens[0]["token_id"]}, headers=headers
    ).json
    assert [t["id"] for t in listed["items"]] == [t["token_id"] for t in tokens[1:]]


def test_pages_link_to_their_neighbours(app: TestApp, api: Api, community) -> None:
    first = app.get("/example/users", {"limit": 2, "order_by": "-tokens"})
    meta = first.json["_meta"]
    assert "prev" not in meta
    assert meta["next"].startswith("http://localhost/example/users?")
    assert query_of(meta["next"]) == {"limit": "2", "order_by": "-tokens", "start": "2"}
    assert first.headers["Link"] == f'<{meta["next"]}>; rel="next"'
    second = app.get(meta["next"]).json
    assert second["_meta"]["start"] == 2
    assert query_of(second["_meta"]["prev"])["start"] == "0"
    last = app.get(app.get(second["_meta"]["next"]).json["_meta"]["prev"]).json
    assert last == second
    end = app.get("/example/users", {"limit": 2, "start": 4})
    assert "next" not in end.json["_meta"]
    assert end.headers["Link"] == f'<{end.json["_meta"]["prev"]}>; rel="prev"'
    alone = app.get("/example/users", {"limit": 100})
    assert "Link" not in alone.headers
    assert set(alone.json["_meta"]) == {"total", "limit", "start"}


def test_links_follow_every_list_to_its_end(app: TestApp, api: Api, community) -> None:
    for path in ("/example/users", "/example/contributions", "/example/evaluations"):
        url, seen = f"{path}?limit=2", []
        for _ in range(10):
            body = app.get(url).json
            seen += [item["id"] for item in body["items"]]
            if "next" not in body["_meta"]:
                break
            url = body["_meta"]["next"]
        assert sorted(seen) == sorted(api.ids(path, limit=1000)), path


def test_links_keep_the_window_and_filters(app: TestApp, community) -> None:
    made = community["contributions"]
    body = app.get(
        "/example/contributions",
        {"since_id": made[0], "limit": 1, "order_by": "time", "type": "article"},
    ).json
    assert query_of(body["_meta"]["next"]) == {
        "since_id": str(made[0]),
        "limit": "1",
        "order_by": "time",
        "type": "article",
        "start": "1",
    }


def test_links_are_built_on_the_public_url(make_app) -> None:
    app = make_app(**{"backfeed.public_url": "https://api.example.org/backfeed"})
    api = Api(app)
    for _ in range(3):
        api.user()
    meta = api.get("/example/users", limit=1, start=1)["_meta"]
    assert meta["next"].startswith("https://api.example.org/backfeed/example/users?")
    assert meta["prev"].startswith("https://api.example.org/backfeed/example/users?")


@pytest.mark.parametrize("name", ["since_id", "max_id"])
@pytest.mark.parametrize("bad", ["-1", "x", "1.5", str(2**63)])
def test_bad_bounds_are_refused(app: TestApp, name: str, bad: str) -> None:
    response = app.get("/example/users", {name: bad}, status=400)
    assert_error(response, 400, location="querystring", name=name)


def test_a_user_token_sees_the_same_links(app: TestApp, api: Api, community, db) -> None:
    token = issue_token(db, "example", "read")
    body = app.get(
        "/example/users", {"limit": 1}, headers={"Authorization": f"Bearer {token}"}
    ).json
    assert query_of(body["_meta"]["next"])["start"] == "1"
