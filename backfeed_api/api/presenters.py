"""The JSON shapes of the published API, built for a whole page with a fixed number of queries.

Shapes (see ``docs/api.rst``): user, contribution (with its contributor and stats),
evaluation (with its evaluator and contribution), collection, ledger entry, event, webhook
delivery attempt and replay job. Numbers are
plain floats, ids ints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import ContractRules

from ..clock import iso
from ..domain.catalog import ServedContract
from ..domain.evaluations import VoteOutcome
from ..domain.explanations import explain
from ..domain.previews import PlannedEntry
from ..domain.stats import contribution_stats, voted_reputation
from ..models import (
    ContractRow,
    Contribution,
    Evaluation,
    Event,
    LedgerEntry,
    ReplayJob,
    User,
    Webhook,
    WebhookDelivery,
)


def number(value: float) -> int | float:
    """A vote value as JSON shows it: ``1`` rather than ``1.0``."""
    return int(value) if float(value).is_integer() else value


def collection(
    items: list[dict], total: int, limit: int, start: int, links: dict[str, str] | None = None
) -> dict:
    """A page of items with its paging metadata, and the URLs of the pages around it
    (``next``, ``prev``) where there are any."""
    return {
        "count": len(items),
        "_meta": {"total": total, "limit": limit, "start": start, **(links or {})},
        "items": items,
    }


def contract_document(row: ContractRow, rules: ContractRules) -> dict:
    """A contract as ``GET /{contract}`` shows it: its kind and configuration ``version``,
    the parameters of that version, and its live totals from its row."""
    parameters = rules.params.as_dict()
    return {
        "name": row.name,
        "kind": row.kind,
        "version": row.version,
        "parameters": {k: v for k, v in parameters.items() if k != "types"},
        "types": parameters["types"],
        "default_type": rules.params.default_type,
        "totals": {
            "users": row.user_count,
            "contributions": row.contribution_count,
            "evaluations": row.evaluation_count,
            "reputation": row.total_reputation,
            "tokens": row.total_tokens,
        },
        "created_at": iso(row.created_at),
    }


class Presenter:
    """Renders objects of one contract; reads the contract's total reputation once, unless
    the caller knows it already."""

    def __init__(
        self,
        session: Session,
        contract: ServedContract,
        now: datetime,
        total_reputation: float | None = None,
    ) -> None:
        self.session = session
        self.contract = contract
        self.now = now
        if total_reputation is None:
            total_reputation = session.scalar(
                select(ContractRow.total_reputation).where(ContractRow.id == contract.row_id)
            )
        self.total_reputation = total_reputation

    def user(self, user: User) -> dict:
        """One user with its normalised reputation."""
        total = self.total_reputation
        reputation = user.balance
        data = {
            "id": user.id,
            "tokens": user.tokens,
            "reputation": reputation,
            "reputation_normalized": reputation / total if reputation and total else 0.0,
            "total_reputation": total,
            "created_at": iso(user.created_at),
        }
        if user.referrer_id is not None:
            data["referrer"] = {"id": user.referrer_id}
        return data

    def users(self, users: Sequence[User]) -> list[dict]:
        """Many users."""
        return [self.user(user) for user in users]

    def _load_users(self, ids: set[int]) -> dict[int, User]:
        if not ids:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(ids)))}

    def contributions(
        self,
        contributions: Sequence[Contribution],
        voted: dict[int, dict[float, float]] | None = None,
    ) -> list[dict]:
        """Many contributions with contributors and stats: two queries in all, one when the
        voted reputation per contribution and value is given."""
        contributors = self._load_users({c.contributor_id for c in contributions})
        if voted is None:
            voted = voted_reputation(
                self.session, self.contract.row_id, [c.id for c in contributions]
            )
        return [
            self._contribution(c, contributors[c.contributor_id], voted[c.id])
            for c in contributions
        ]

    def _contribution(
        self, contribution: Contribution, contributor: User, voted: dict[float, float]
    ) -> dict:
        return {
            "id": contribution.id,
            "type": contribution.type,
            "contributor": self.user(contributor),
            "stats": contribution_stats(
                self.contract.rules, contribution, voted, self.total_reputation, self.now
            ),
            "max_score": contribution.max_score,
            "token_fund": contribution.token_fund,
            "created_at": iso(contribution.created_at),
        }

    def contribution(self, contribution: Contribution) -> dict:
        """One contribution."""
        return self.contributions([contribution])[0]

    def new_contribution(self, contribution: Contribution, contributor: User) -> dict:
        """A contribution no one has voted on, whose contributor is known: no query."""
        return self._contribution(contribution, contributor, {})

    def evaluations(self, evaluations: Sequence[Evaluation]) -> list[dict]:
        """Many evaluations with evaluators and contributions: four queries in all."""
        ids = {e.contribution_id for e in evaluations}
        contributions = (
            list(self.session.scalars(select(Contribution).where(Contribution.id.in_(ids))))
            if ids
            else []
        )
        rendered = dict(
            zip((c.id for c in contributions), self.contributions(contributions), strict=True)
        )
        evaluators = self._load_users({e.evaluator_id for e in evaluations})
        return [
            self._evaluation(e, evaluators[e.evaluator_id], rendered[e.contribution_id])
            for e in evaluations
        ]

    def _evaluation(self, evaluation: Evaluation, evaluator: User, contribution: dict) -> dict:
        return {
            "id": evaluation.id,
            "value": number(evaluation.value),
            "active": evaluation.active,
            "evaluator": self.user(evaluator),
            "contribution": contribution,
            "created_at": iso(evaluation.created_at),
        }

    def evaluation(self, evaluation: Evaluation) -> dict:
        """One evaluation."""
        return self.evaluations([evaluation])[0]

    def vote(self, outcome: VoteOutcome) -> dict:
        """The answer to a vote, from what applying it already knows: no query."""
        evaluation, contribution, users = outcome.evaluation, outcome.contribution, outcome.users
        rendered = self._contribution(
            contribution, users[contribution.contributor_id], outcome.voted
        )
        return self._evaluation(evaluation, users[evaluation.evaluator_id], rendered)


def ledger_entries(session: Session, contract_id: int, entries: Sequence[LedgerEntry]) -> list:
    """Many ledger entries with their explanations: one query in all."""
    explained = explain(session, contract_id, entries)
    return [
        ledger_entry(entry, explanation)
        for entry, explanation in zip(entries, explained, strict=True)
    ]


def ledger_entry(entry: LedgerEntry, explanation: dict) -> dict:
    """One change of a user's balances (or, with no user, a collective loss), its cause and
    why it is what it is (:mod:`..domain.explanations`)."""
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "cause": {"type": entry.cause_type, "id": entry.cause_id},
        "reputation_delta": entry.reputation_delta,
        "tokens_delta": entry.tokens_delta,
        "reputation": entry.reputation,
        "tokens": entry.tokens,
        "created_at": iso(entry.created_at),
        **explanation,
    }


def preview(rendered: dict, planned: Sequence[PlannedEntry]) -> dict:
    """The answer to a dry run: the would-be object (``id`` null), marked as such, with the
    entries the action would write."""
    return {**rendered, "dry_run": True, "entries": [planned_entry(e) for e in planned]}


def planned_entry(entry: PlannedEntry) -> dict:
    """A ledger entry an action would write: as stored ones show, without what only
    writing it gives (its id, its cause's id, the balances after)."""
    return {
        "user_id": entry.user_id,
        "cause": {"type": entry.cause_type, "id": None},
        "reputation_delta": entry.reputation_delta,
        "tokens_delta": entry.tokens_delta,
        **entry.explanation,
    }


def event(row: Event) -> dict:
    """One event of the feed."""
    return {"id": row.id, "type": row.type, "created_at": iso(row.created_at), "data": row.data}


def webhook(row: Webhook) -> dict:
    """One webhook subscription, without its secret."""
    return {
        "id": row.id,
        "url": row.url,
        "types": list(row.types),
        "description": row.description,
        "enabled": row.enabled,
        "failing": row.failing,
        "last_event_id": row.last_event_id,
        "created_at": iso(row.created_at),
    }


def delivery(row: WebhookDelivery) -> dict:
    """One delivery attempt of one event."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "attempt": row.attempt,
        "status": row.status,
        "error": row.error,
        "delivered": row.delivered,
        "duration_ms": row.duration_ms,
        "attempted_at": iso(row.attempted_at),
    }


def _moment(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def replay_job(row: ReplayJob, url: str, links: dict[str, str]) -> dict:
    """A replay job at ``url``; once done its ``result`` is the report, with the ``links``
    to its CSV and plot."""
    result = None if row.result is None else {**row.result, "links": links}
    return {
        "id": row.id,
        "url": url,
        "status": row.status,
        "progress": row.progress,
        "parameters": dict(row.parameters),
        "created_at": iso(row.created_at),
        "started_at": _moment(row.started_at),
        "finished_at": _moment(row.finished_at),
        "expires_at": _moment(row.expires_at),
        "result": result,
        "error": row.error,
    }
