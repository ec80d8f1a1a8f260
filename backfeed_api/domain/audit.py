"""Auditing a contract's books: the invariants that must hold after any history.

(a) the stored total reputation (and tokens) equals the sum over the users;
(b) each user's balances equal the sum of the changes of its history: its ledger entries
    (its opening balances are the first one) and its shares of the collective losses,
    derived from them as its history derives them (:mod:`.history`); and the collective
    losses, as recorded, add up to the users' shares of them;
(c) replaying the committed actions, in commit order, through the in-memory simulator,
    each under the version of the configuration in force when it committed, reproduces
    every balance, ``max_score`` and ``token_fund``;
(d) nobody has two active votes on one contribution; no balance is NaN; no reputation is
    negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ContractRow, Contribution, Evaluation, LedgerEntry, User
from .catalog import ServedContract
from .history import loss_changes
from .replay import ReplayRefused, load_history, replay, versioned_rules

RELATIVE = 1e-9
ABSOLUTE = 1e-9


@dataclass(frozen=True)
class Finding:
    """One broken invariant, in words an operator can act on."""

    contract: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.contract}] ({self.check}) {self.message}"


def _far(stored: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Where ``stored`` and ``expected`` differ by more than the tolerance (or are NaN)."""
    return ~np.isclose(stored, expected, rtol=RELATIVE, atol=ABSOLUTE)


def _mismatches(contract, check, what, ids, stored, expected, limit=5) -> list[Finding]:
    bad = np.flatnonzero(_far(np.asarray(stored), np.asarray(expected)))
    return [
        Finding(
            contract,
            check,
            f"{what} {ids[i]}: stored {float(stored[i])!r}, expected {float(expected[i])!r}",
        )
        for i in bad[:limit]
    ] + (
        [Finding(contract, check, f"... and {len(bad) - limit} more {what} mismatches")]
        if len(bad) > limit
        else []
    )


def audit(session: Session, contract: ServedContract) -> list[Finding]:
    """Every broken invariant of the contract; an empty list means the books balance."""
    name = contract.name
    row = session.get(ContractRow, contract.row_id)
    users = session.execute(
        select(User.id, User.reputation, User.tokens)
        .where(User.contract_id == row.id)
        .order_by(User.seq)
    ).all()
    ids = [u.id for u in users]
    reputation = np.array([u.reputation for u in users], dtype=np.float64) * row.reputation_scale
    tokens = np.array([u.tokens for u in users], dtype=np.float64)
    findings: list[Finding] = []

    # (a) running totals
    for what, stored, actual in (
        ("total reputation", row.total_reputation, reputation.sum()),
        ("total tokens", row.total_tokens, tokens.sum()),
    ):
        if _far(np.array([stored]), np.array([actual]))[0]:
            findings.append(
                Finding(name, "a", f"stored {what} {stored!r} but users sum to {float(actual)!r}")
            )

    # (b) ledger
    sums = {
        user_id: (rep, tok)
        for user_id, rep, tok in session.execute(
            select(
                LedgerEntry.user_id,
                func.sum(LedgerEntry.reputation_delta),
                func.sum(LedgerEntry.tokens_delta),
            )
            .where(LedgerEntry.contract_id == row.id)
            .group_by(LedgerEntry.user_id)
        )
    }
    losses = loss_changes(session, row.id)
    ledger_rep = np.array(
        [sums.get(i, (0.0, 0.0))[0] + losses.get(i, 0.0) for i in ids], dtype=np.float64
    )
    ledger_tok = np.array([sums.get(i, (0.0, 0.0))[1] for i in ids], dtype=np.float64)
    findings += _mismatches(name, "b", "reputation (ledger) of user", ids, reputation, ledger_rep)
    findings += _mismatches(name, "b", "tokens (ledger) of user", ids, tokens, ledger_tok)
    collective = sums.get(None, (0.0, 0.0))[0]
    derived = sum(losses.values())
    scale = max(abs(collective), abs(derived), abs(row.total_reputation))
    if abs(collective - derived) > RELATIVE * scale + ABSOLUTE:
        findings.append(
            Finding(
                name,
                "b",
                f"the collective losses add up to {collective!r}, the users' shares of them "
                f"to {derived!r}",
            )
        )

    # (c) replay
    findings += _replay(session, contract, ids, reputation, tokens)

    # (d) sanity
    duplicates = session.execute(
        select(Evaluation.contribution_id, Evaluation.evaluator_id)
        .where(Evaluation.contract_id == row.id, Evaluation.active)
        .group_by(Evaluation.contribution_id, Evaluation.evaluator_id)
        .having(func.count() > 1)
    ).all()
    for contribution_id, evaluator_id in duplicates:
        findings.append(
            Finding(
                name,
                "d",
                f"user {evaluator_id} has several active votes on contribution {contribution_id}",
            )
        )
    for what, values in (("reputation", reputation), ("tokens", tokens)):
        for i in np.flatnonzero(np.isnan(values))[:5]:
            findings.append(Finding(name, "d", f"{what} of user {ids[i]} is NaN"))
    for i in np.flatnonzero(reputation < 0)[:5]:
        findings.append(
            Finding(name, "d", f"reputation of user {ids[i]} is negative: {reputation[i]!r}")
        )
    return findings


def _replay(session, contract: ServedContract, ids, reputation, tokens) -> list[Finding]:
    """Apply the stored history to a simulator and compare the outcome with the database."""
    name = contract.name
    history = load_history(session, contract.row_id)
    first, later = versioned_rules(history, contract.rules)
    try:
        simulation = replay(history, first, stop_at_refusal=True, later=later).simulation
    except ReplayRefused as error:  # a history the rules refuse is itself the finding
        return [Finding(name, "c", f"replay failed at {error.message}")]
    findings = []
    findings += _mismatches(
        name, "c", "reputation (replay) of user", ids, reputation, simulation.users.reputation
    )
    findings += _mismatches(
        name, "c", "tokens (replay) of user", ids, tokens, simulation.users.tokens
    )
    contributions = session.execute(
        select(Contribution.id, Contribution.max_score, Contribution.token_fund)
        .where(Contribution.contract_id == contract.row_id)
        .order_by(Contribution.seq)
    ).all()
    c_ids = [c.id for c in contributions]
    findings += _mismatches(
        name,
        "c",
        "max_score (replay) of contribution",
        c_ids,
        np.array([c.max_score for c in contributions]),
        simulation.contributions.max_score,
    )
    findings += _mismatches(
        name,
        "c",
        "token_fund (replay) of contribution",
        c_ids,
        np.array([c.token_fund for c in contributions]),
        simulation.contributions.token_fund,
    )
    return findings
