"""Dry runs: what an action would write, computed by the same code and never written.

A creating action run with ``dry_run`` takes the contract lock and reads and checks
everything as the real one does (so it refuses what the real one refuses), asks the engine
for the same effects, and stops before its first write: it returns a :class:`Preview`, the
would-be object (without an id) and the ledger entries the action would write, explained.
The caller dooms the transaction besides, so nothing of it can be committed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from protocol.explanations import Explanation

from .explanations import explanation_of
from .ledger import Entries


@dataclass(frozen=True)
class PlannedEntry:
    """A ledger entry an action would write: whose (None: a collective loss), its deltas
    and its explanation (``rule``, ``inputs``, ``formula``, ``config_version``)."""

    user_id: int | None
    cause_type: str
    reputation_delta: float
    tokens_delta: float
    explanation: dict[str, Any]


@dataclass(frozen=True)
class Preview:
    """The object an action would create, and the entries it would write."""

    subject: Any
    entries: list[PlannedEntry]


def planned_entries(
    cause_type: str,
    entries: Entries,
    explanations: Sequence[Explanation],
    version: int,
) -> list[PlannedEntry]:
    """The entries of ``entries`` (one per changed user) with their explanations."""
    changes = entries.changes
    return [
        PlannedEntry(
            user_id=user_id,
            cause_type=cause_type,
            reputation_delta=reputation,
            tokens_delta=tokens,
            explanation=explanation_of(
                explanations, mask, json.loads(inputs) if inputs else {}, version
            ),
        )
        for user_id, reputation, tokens, mask, inputs in zip(
            changes.user_ids.tolist(),
            changes.reputation.tolist(),
            changes.tokens.tolist(),
            entries.masks.tolist(),
            entries.inputs,
            strict=True,
        )
    ]
