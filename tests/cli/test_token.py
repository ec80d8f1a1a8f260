"""``backfeed token create|list|revoke``: tokens that the API honours, shown once, listed
without secrets, revoked for good; usage errors are one line and exit 2."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api import main
from backfeed_api.models import ApiToken

from ..conftest import bearer
from .conftest import Outcome, Runner

CONTRACTS = "example dmag"


@dataclass
class Deployment:
    """A settings file, its initialised SQLite database and the API served from it."""

    ini: Path
    url: str
    api: TestApp

    def rows(self) -> list[ApiToken]:
        """The stored tokens, oldest first."""
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.select(ApiToken).order_by(ApiToken.id)))
        finally:
            engine.dispose()


@pytest.fixture
def deployment(
    tmp_path: Path, backfeed: Runner, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """``initdb`` done, and two users in ``example`` created with a development token."""
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'tokens.sqlite'}"
    ini = tmp_path / "tokens.ini"
    ini.write_text(
        f"[app:main]\nuse = egg:backfeed-api\nsqlalchemy.url = {url}\n"
        f"backfeed.contracts = {CONTRACTS}\n",
        encoding="utf-8",
    )
    assert backfeed("initdb", ini).code == 0
    wsgi = main({}, **{"sqlalchemy.url": url, "backfeed.contracts": CONTRACTS})
    api = TestApp(wsgi)
    yield Deployment(ini, url, api)
    wsgi.registry["db_engine"].dispose()


def created_token(outcome: Outcome) -> str:
    """The token a successful ``create`` printed: alone, on one line of standard output."""
    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert len(lines) == 1
    assert len(lines[0]) >= 43
    assert "shown only this once" in outcome.err
    return lines[0]


def one_line_error(outcome: Outcome, code: int, words: str) -> None:
    """A failure: the exit code, nothing on standard output, one line on standard error."""
    assert outcome.code == code, outcome
    assert outcome.out == ""
    assert outcome.err.count("\n") == 1, outcome.err
    assert outcome.err.startswith("backfeed token: error: ")
    assert words in outcome.err
    assert "Traceback" not in outcome.err


def test_an_admin_token_works_once_created(backfeed: Runner, deployment: Deployment) -> None:
    token = created_token(
        backfeed("token", "create", deployment.ini, "--contract", "example", "--role", "admin")
    )
    [row] = deployment.rows()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (row.role, row.user_id, row.origin, row.revoked_at) == ("admin", None, "cli", None)
    api = deployment.api
    api.post_json("/example/users", {"tokens": 5}, headers=bearer(token), status=201)
    api.post_json("/dmag/users", {}, headers=bearer(token), status=401)


def test_a_service_token_creates_contracts_and_is_admin_of_all(
    backfeed: Runner, deployment: Deployment
) -> None:
    outcome = backfeed("token", "create", deployment.ini, "--service")
    token = created_token(outcome)
    assert "service-wide admin" in outcome.err
    [row] = deployment.rows()
    assert (row.contract_id, row.role, row.user_id, row.origin) == (None, "admin", None, "cli")
    api = deployment.api
    api.put_json("/guild", {"kind": "example"}, headers=bearer(token), status=201)
    for contract in ("example", "dmag", "guild"):
        api.post_json(f"/{contract}/users", {}, headers=bearer(token), status=201)
    admin = created_token(
        backfeed("token", "create", deployment.ini, "--contract", "example", "--role", "admin")
    )
    api.put_json("/other", {"kind": "example"}, headers=bearer(admin), status=403)
    listed = backfeed("token", "list", deployment.ini).out.splitlines()[1:]
    assert [line.split()[:3] for line in listed] == [
        ["1", "*", "admin"],
        ["2", "example", "admin"],
    ]


def test_a_user_token_acts_as_its_user(backfeed: Runner, deployment: Deployment) -> None:
    admin = created_token(
        backfeed("token", "create", deployment.ini, "--contract", "example", "--role", "admin")
    )
    api = deployment.api
    ann = api.post_json("/example/users", {}, headers=bearer(admin)).json["id"]
    bob = api.post_json("/example/users", {}, headers=bearer(admin)).json["id"]
    token = created_token(
        backfeed(
            "token", "create", deployment.ini, "--contract", "example", "--role", "user",
            "--user", str(ann),
        )
    )  # fmt: skip
    mine = bearer(token)
    api.post_json("/example/contributions", {"contributor_id": ann}, headers=mine, status=201)
    api.post_json("/example/contributions", {"contributor_id": bob}, headers=mine, status=403)


def test_a_read_token_only_reads(backfeed: Runner, deployment: Deployment) -> None:
    token = created_token(
        backfeed("token", "create", deployment.ini, "--contract", "dmag", "--role", "read")
    )
    deployment.api.get("/dmag/users", headers=bearer(token), status=200)
    deployment.api.post_json("/dmag/users", {}, headers=bearer(token), status=403)


def test_list_shows_every_token_but_no_secret(backfeed: Runner, deployment: Deployment) -> None:
    tokens = [
        created_token(
            backfeed("token", "create", deployment.ini, "--contract", contract, "--role", role)
        )
        for contract, role in (("example", "admin"), ("dmag", "read"))
    ]
    outcome = backfeed("token", "list", deployment.ini)
    assert outcome.code == 0, outcome.err
    header, *lines = outcome.out.splitlines()
    assert header.split() == [
        "id",
        "contract",
        "role",
        "user",
        "origin",
        "created",
        "expires",
        "revoked",
    ]
    assert [line.split()[:5] for line in lines] == [
        ["1", "example", "admin", "-", "cli"],
        ["2", "dmag", "read", "-", "cli"],
    ]
    assert all(line.split()[6:] == ["-", "-"] for line in lines)
    for row, token in zip(deployment.rows(), tokens, strict=True):
        assert token not in outcome.out
        assert row.token_hash not in outcome.out
    only = backfeed("token", "list", deployment.ini, "--contract", "dmag")
    assert [line.split()[1] for line in only.out.splitlines()[1:]] == ["dmag"]


def test_a_revoked_token_is_refused(backfeed: Runner, deployment: Deployment) -> None:
    token = created_token(
        backfeed("token", "create", deployment.ini, "--contract", "example", "--role", "admin")
    )
    outcome = backfeed("token", "revoke", deployment.ini, "1")
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith("token 1 revoked at ")
    refused = deployment.api.post_json("/example/users", {}, headers=bearer(token), status=401)
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    deployment.api.get("/example/users", headers=bearer(token), status=401)
    [row] = deployment.rows()
    assert row.revoked_at is not None
    listed = backfeed("token", "list", deployment.ini).out.splitlines()[1]
    assert listed.split()[7] != "-"  # revoked, and "-" for an expiry it does not have
    again = backfeed("token", "revoke", deployment.ini, "1")
    assert again.code == 0
    assert again.out == outcome.out  # the first revocation's time stays


def test_revoking_an_unknown_token_is_a_problem(backfeed: Runner, deployment: Deployment) -> None:
    one_line_error(backfeed("token", "revoke", deployment.ini, "42"), 1, "no token 42")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--contract", "nosuch", "--role", "admin"], "no contract 'nosuch'"),
        (["--contract", "example", "--role", "root"], "--role must be one of"),
        (["--contract", "example", "--role", "user"], "--user is needed"),
        (["--contract", "example", "--role", "admin", "--user", "1"], "only with it"),
        (["--contract", "example", "--role", "user", "--user", "x"], "positive integer"),
        (["--contract", "example", "--role", "user", "--user", "99"], "not a user"),
        (["--service", "--contract", "example"], "--service takes no"),
        (["--service", "--role", "admin"], "--service takes no"),
        (["--role", "admin"], "--contract and --role are needed"),
    ],
    ids=[
        "contract",
        "role",
        "user-missing",
        "user-extra",
        "user-not-a-number",
        "user-unknown",
        "service-with-contract",
        "service-with-role",
        "no-contract",
    ],
)
def test_bad_options_are_one_line_usage_errors(
    backfeed: Runner, deployment: Deployment, arguments: list[str], words: str
) -> None:
    one_line_error(backfeed("token", "create", deployment.ini, *arguments), 2, words)
    assert deployment.rows() == []


def test_a_missing_settings_file_is_a_usage_error(backfeed: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.ini"
    for argv in (
        ("create", missing, "--contract", "example", "--role", "admin"),
        ("list", missing),
        ("revoke", missing, "1"),
    ):
        one_line_error(backfeed("token", *argv), 2, "no such settings file")


@pytest.mark.parametrize("text", ["one", "²", "0", "9223372036854775808"])
def test_revoke_takes_an_id(backfeed: Runner, deployment: Deployment, text: str) -> None:
    one_line_error(backfeed("token", "revoke", deployment.ini, text), 2, "positive integer")


def test_list_shows_when_a_login_token_expires(backfeed: Runner, deployment: Deployment) -> None:
    admin = created_token(
        backfeed("token", "create", deployment.ini, "--contract", "example", "--role", "admin")
    )
    login = {"username": "ann", "password": "correct horse battery"}
    deployment.api.post_json("/example/users", login, headers=bearer(admin), status=201)
    answer = deployment.api.post_json("/example/auth", login, status=201).json
    outcome = backfeed("token", "list", deployment.ini)
    assert outcome.code == 0, outcome.err
    row = outcome.out.splitlines()[2].split()
    assert row[:5] == [str(answer["token_id"]), "example", "user", str(answer["user_id"]), "login"]
    assert row[6:] == [answer["expires_at"], "-"]
