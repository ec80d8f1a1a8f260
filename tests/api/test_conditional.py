"""``ETag`` on every read, ``If-None-Match`` answered with ``304``, and the cache headers."""

from __future__ import annotations

import pytest
from webtest import TestApp

from ..conftest import issue_token
from .conftest import Api, counting_statements


@pytest.fixture
def public(app: TestApp) -> TestApp:
    """A client without a token: the public reads."""
    return TestApp(app.app)


@pytest.fixture
def community(api: Api) -> dict[str, int]:
    ann, bob = api.user(tokens=20)["id"], api.user(tokens=20)["id"]
    article = api.contribution(ann)["id"]
    vote = api.vote(bob, article, 1)["id"]
    return {"ann": ann, "bob": bob, "article": article, "vote": vote}


def reads(ids: dict[str, int]) -> list[str]:
    return [
        "/",
        "/__api__",
        "/example",
        "/example/users?limit=5",
        f"/example/users/{ids['ann']}",
        f"/example/users/{ids['ann']}/history",
        "/example/contributions",
        f"/example/contributions/{ids['article']}",
        "/example/evaluations",
        f"/example/evaluations/{ids['vote']}",
    ]


def test_a_second_identical_read_is_a_304(public: TestApp, community) -> None:
    for path in reads(community):
        first = public.get(path, status=200)
        tag = first.headers["ETag"]
        assert tag.startswith('"'), path
        assert tag.endswith('"'), path
        assert first.headers["Cache-Control"] == "no-cache", path
        again = public.get(path, headers={"If-None-Match": tag}, status=304)
        assert again.body == b"", path
        assert again.headers["ETag"] == tag, path
        assert again.headers["Cache-Control"] == "no-cache", path
        assert public.head(path, headers={"If-None-Match": tag}, status=304)
        other = public.get(path, headers={"If-None-Match": '"something else"'}, status=200)
        assert other.body == first.body, path


def test_a_write_in_between_makes_it_a_200(public: TestApp, api: Api, community) -> None:
    paths = reads(community)[2:]
    tags = {path: public.get(path).headers["ETag"] for path in paths}
    api.vote(community["ann"], api.contribution(community["bob"])["id"], 1)
    for path in paths:
        response = public.get(path, headers={"If-None-Match": tags[path]}, status=200)
        assert response.headers["ETag"] != tags[path], path


def test_another_query_has_another_tag(public: TestApp, community) -> None:
    one = public.get("/example/users?limit=1").headers["ETag"]
    two = public.get("/example/users?limit=2").headers["ETag"]
    assert one != two
    public.get("/example/users?limit=2", headers={"If-None-Match": one}, status=200)


def test_the_tag_changes_when_a_contribution_ages_a_day(public: TestApp, clock, community):
    path = f"/example/contributions/{community['article']}"
    tag = public.get(path).headers["ETag"]
    clock.advance(hours=23)
    public.get(path, headers={"If-None-Match": tag}, status=304)
    clock.advance(hours=1)  # a whole day old: its score decays one step
    fresh = public.get(path, headers={"If-None-Match": tag}, status=200)
    assert fresh.headers["ETag"] != tag


def test_private_reads_stay_no_store_and_depend_on_the_token(app, public, db, community):
    token = issue_token(db, "example", "read")
    other = issue_token(db, "example", "read")
    first = app.get("/example/users", headers={"Authorization": f"Bearer {token}"})
    assert first.headers["Cache-Control"] == "no-store"
    tag = first.headers["ETag"]
    again = app.get(
        "/example/users",
        headers={"Authorization": f"Bearer {token}", "If-None-Match": tag},
        status=304,
    )
    assert again.headers["Cache-Control"] == "no-store"
    app.get(
        "/example/users",
        headers={"Authorization": f"Bearer {other}", "If-None-Match": tag},
        status=200,
    )
    assert public.get("/example/users").headers["ETag"] != tag


def test_login_tokens_are_tagged_by_their_body(app: TestApp, api: Api) -> None:
    password = "a long secret of hers"
    api.user(username="ann", password=password)
    login = {"username": "ann", "password": password}
    token = app.post_json("/example/auth", login).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    first = app.get("/example/auth/tokens", headers=headers)
    tag = first.headers["ETag"]
    app.get("/example/auth/tokens", headers={**headers, "If-None-Match": tag}, status=304)
    app.post_json("/example/auth", login)  # a login is no action, but a new token
    app.get("/example/auth/tokens", headers={**headers, "If-None-Match": tag}, status=200)


def test_errors_and_writes_carry_no_tag(app: TestApp, public: TestApp) -> None:
    assert "ETag" not in public.get("/example/users/999", status=404).headers
    assert "ETag" not in public.get("/example/users?limit=0", status=400).headers
    assert "ETag" not in app.post_json("/example/users", {}, status=201).headers


def test_a_304_needs_the_permission_first(make_app, db) -> None:
    private = make_app(**{"backfeed.public_reads": "false"})
    token = issue_token(private.app.registry["db_engine"], "example", "read")
    tag = private.get("/example", headers={"Authorization": f"Bearer {token}"}).headers["ETag"]
    TestApp(private.app).get("/example", headers={"If-None-Match": tag}, status=401)


def test_a_304_reads_no_more_than_the_tag(public: TestApp, api: Api, community, db) -> None:
    """The tag costs the contract's counter and the contributions added since (none here):
    a 304 of a page of votes runs two statements where its 200 runs several more."""
    for _ in range(5):
        api.vote(community["ann"], api.contribution(community["bob"])["id"], 1)
    path = "/example/evaluations?limit=50"
    tag = public.get(path).headers["ETag"]
    with counting_statements(db) as rendered:
        public.get(path, status=200)
    with counting_statements(db) as revalidated:
        public.get(path, headers={"If-None-Match": tag}, status=304)
    selects = [s for s in revalidated if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, revalidated
    assert len(rendered) > len(revalidated) + 2
