"""Client side of the concurrency tests: what the clients were told, checked against the
database afterwards."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from backfeed_api.models import ContractRow, Contribution, Evaluation, LedgerEntry, User

from .servers import Server, backfeed

CONTRACTS = "example dmag"
"""The contracts the servers of these tests serve."""


def refused_by_the_rules(response) -> bool:
    """Whether a vote was refused by the contract's rules rather than failed: a vote on one's
    own contribution (403 on ``evaluator_id``) or a change beyond the limit (409 on
    ``value``). Such a vote changes nothing."""
    expected = {403: "evaluator_id", 409: "value"}.get(response.status_code)
    if expected is None or response.headers.get("Content-Type") != "application/json":
        return False
    errors = response.json().get("errors", [])
    return any(
        error.get("location") == "body" and error.get("name") == expected for error in errors
    )


@dataclass
class Books:
    """Everything the servers said they created, per contract, as the clients saw it.

    ``users``: id → referrer id; ``contributions``: id → (contributor id, type);
    ``evaluations``: id → (evaluator id, contribution id, value) for every 201;
    ``standing``: the evaluations that 200s (a repeated vote) returned, to check as well.
    """

    users: dict[str, dict[int, int | None]] = field(default_factory=dict)
    contributions: dict[str, dict[int, tuple[int, str]]] = field(default_factory=dict)
    evaluations: dict[str, dict[int, tuple[int, int, float]]] = field(default_factory=dict)
    standing: dict[str, dict[int, tuple[int, int, float]]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        """Count an answer's status."""
        with self.lock:
            self.statuses[status] += 1

    def record(self, contract: str, kind: str, status: int, body: dict) -> None:
        """Keep what a 2xx response says was created (201) or stands (200); count it."""
        with self.lock:
            self.statuses[status] += 1
            self._record(contract, kind, status, body)

    def _record(self, contract: str, kind: str, status: int, body: dict) -> None:
        if kind == "users":
            table = self.users.setdefault(contract, {})
            value: object = (body.get("referrer") or {}).get("id")
        elif kind == "contributions":
            table = self.contributions.setdefault(contract, {})
            value = (body["contributor"]["id"], body["type"])
        else:
            value = (body["evaluator"]["id"], body["contribution"]["id"], body["value"])
            if status == 200:
                self.standing.setdefault(contract, {})[body["id"]] = value
                return
            table = self.evaluations.setdefault(contract, {})
        if status != 201:
            self.problems.append(f"{kind} answered {status} on {contract}: {body}")
        elif body["id"] in table and table[body["id"]] != value:
            self.problems.append(f"{kind} {body['id']} created twice with other values")
        elif body["id"] in table:
            self.problems.append(f"{kind} {body['id']} was answered 201 twice")
        table[body["id"]] = value


def rows_by_contract(engine: sa.Engine) -> dict[str, dict[str, dict[int, object]]]:
    """The users, contributions and evaluations of each contract, shaped like :class:`Books`."""
    with engine.connect() as connection:
        names = dict(connection.execute(sa.select(ContractRow.id, ContractRow.name)).all())
        found: dict[str, dict[str, dict[int, object]]] = {
            name: {"users": {}, "contributions": {}, "evaluations": {}} for name in names.values()
        }
        for row in connection.execute(sa.select(User.id, User.contract_id, User.referrer_id)):
            found[names[row.contract_id]]["users"][row.id] = row.referrer_id
        for row in connection.execute(
            sa.select(
                Contribution.id,
                Contribution.contract_id,
                Contribution.contributor_id,
                Contribution.type,
            )
        ):
            found[names[row.contract_id]]["contributions"][row.id] = (
                row.contributor_id,
                row.type,
            )
        for row in connection.execute(
            sa.select(
                Evaluation.id,
                Evaluation.contract_id,
                Evaluation.evaluator_id,
                Evaluation.contribution_id,
                Evaluation.value,
            )
        ):
            found[names[row.contract_id]]["evaluations"][row.id] = (
                row.evaluator_id,
                row.contribution_id,
                row.value,
            )
    return found


def assert_books_match(engine: sa.Engine, books: Books, contracts: list[str]) -> None:
    """Every row the clients were told about exists with the same values, and no other row
    exists: nothing lost, nothing counted twice."""
    assert not books.problems, books.problems[:10]
    found = rows_by_contract(engine)
    for name in contracts:
        for kind, told in (
            ("users", books.users.get(name, {})),
            ("contributions", books.contributions.get(name, {})),
            ("evaluations", books.evaluations.get(name, {})),
        ):
            stored = found[name][kind]
            missing = sorted(set(told) - set(stored))
            extra = sorted(set(stored) - set(told))
            assert not missing, f"{name}: {kind} answered 2xx but not stored: {missing[:20]}"
            assert not extra, f"{name}: {kind} stored but never answered 2xx: {extra[:20]}"
            different = [i for i in told if told[i] != stored[i]]
            assert not different, (
                f"{name}: {kind} stored with other values than answered: "
                f"{[(i, told[i], stored[i]) for i in different[:10]]}"
            )
        evaluations = found[name]["evaluations"]
        for evaluation_id, values in books.standing.get(name, {}).items():
            assert evaluations.get(evaluation_id) == values, (name, evaluation_id, values)


def assert_ledger_chains(engine: sa.Engine) -> None:
    """No lost update: each user's ledger is one unbroken chain, every entry's balances are
    the previous entry's plus its deltas, and the last entry's balances are the user's."""
    with engine.connect() as connection:
        balances = {
            row.id: (row.reputation, row.tokens)
            for row in connection.execute(sa.select(User.id, User.reputation, User.tokens))
        }
        entries = connection.execute(
            sa.select(
                LedgerEntry.user_id,
                LedgerEntry.id,
                LedgerEntry.reputation_delta,
                LedgerEntry.tokens_delta,
                LedgerEntry.reputation,
                LedgerEntry.tokens,
            ).order_by(LedgerEntry.user_id, LedgerEntry.id)
        ).all()
    last: dict[int, tuple[float, float]] = {}
    broken = []
    for entry in entries:
        reputation, tokens = last.get(entry.user_id, (0.0, 0.0))
        if not (
            math.isclose(reputation + entry.reputation_delta, entry.reputation, abs_tol=1e-9)
            and math.isclose(tokens + entry.tokens_delta, entry.tokens, abs_tol=1e-9)
        ):
            broken.append(f"user {entry.user_id}, ledger entry {entry.id}")
        last[entry.user_id] = (entry.reputation, entry.tokens)
    assert not broken, f"ledger entries not following from the previous one: {broken[:10]}"
    for user_id, (reputation, tokens) in balances.items():
        chained = last.get(user_id, (0.0, 0.0))
        assert math.isclose(chained[0], reputation, abs_tol=1e-9), (user_id, chained, reputation)
        assert math.isclose(chained[1], tokens, abs_tol=1e-9), (user_id, chained, tokens)


def assert_one_active_vote(engine: sa.Engine) -> None:
    """Each voter has exactly one active vote per contribution voted on: the latest."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Evaluation.contribution_id,
                Evaluation.evaluator_id,
                Evaluation.seq,
                Evaluation.active,
                Evaluation.id,
            ).order_by(Evaluation.contribution_id, Evaluation.evaluator_id, Evaluation.seq)
        ).all()
    pairs: dict[tuple[int, int], list] = {}
    for row in rows:
        pairs.setdefault((row.contribution_id, row.evaluator_id), []).append(row)
    for pair, votes in pairs.items():
        assert [vote.active for vote in votes] == [False] * (len(votes) - 1) + [True], (
            pair,
            votes,
        )


def check_books(ini: Path) -> str:
    """Run ``backfeed check <ini>``; assert it passes and return its report."""
    done = backfeed("check", ini)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "0 problem(s)" in done.stdout, report
    return report


def assert_clean_log(server: Server) -> None:
    """The server logged no error and no traceback."""
    text = server.log_text()
    assert "Traceback" not in text, server.log_tail()
    assert " ERROR " not in text, server.log_tail()
