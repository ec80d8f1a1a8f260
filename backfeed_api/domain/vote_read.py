"""Reading what a vote depends on, in one query whatever the number of earlier voters: the
evaluator and the contributor, and every active vote on the contribution with its voter.

On PostgreSQL the votes come back as one row of arrays (``array_agg``, sent in PostgreSQL's
binary array format) that numpy reads as they are: a contribution with ten thousand voters
costs no Python object per voter. SQLite has no arrays; there each vote is a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import (
    DateTime,
    Double,
    LargeBinary,
    bindparam,
    cast,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from protocol import NO_USER, Party, Voters

from ..models import Evaluation, User
from ..models.arrays import from_binary

USERS = User.__table__
EVALUATIONS = Evaluation.__table__
EPOCH = datetime(1970, 1, 1)
SECOND = timedelta(seconds=1)
VOTE_COLUMNS = (
    "voter_id",
    "voter_reputation",
    "vote_value",
    "voter_referrer_id",
    "voter_created_at",
    "vote_id",
)
"""The query's columns of the active votes, in the order of :class:`Votes`."""


class OwnVote(NamedTuple):
    """The evaluator's active vote on the contribution."""

    evaluation_id: int
    value: float


@dataclass(frozen=True)
class Parties:
    """Everyone a vote involves: ``named`` holds the rows of the evaluator and of the
    contributor that are users of the contract (``id``, ``reputation``, ``tokens``,
    ``referrer_id``, ``created_at`` naive UTC); ``own`` is the evaluator's active vote, if any;
    ``voters`` the other active voters, as the engine takes them."""

    named: dict[int, Any]
    own: OwnVote | None
    voters: Voters


def read_parties(
    session: Session,
    contract_id: int,
    contribution_id: int,
    evaluator_id: int,
    contributor_id: int | None,
) -> Parties:
    """The parties of a vote by ``evaluator_id`` on the contribution (whose contributor is
    None when the contribution is unknown), read in one query."""
    parameters = {
        "contract": contract_id,
        "contribution": contribution_id,
        "evaluator": evaluator_id,
        "contributor": evaluator_id if contributor_id is None else contributor_id,
    }
    aggregated = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(_parties_statement(aggregated), parameters).all()
    named = {row.id: row for row in rows if row.id is not None}
    votes = _from_arrays(rows) if aggregated else _from_rows(rows)
    return _split(named, votes, evaluator_id)


def party(row) -> Party:
    """A named user of :class:`Parties` as the engine sees a single participant."""
    return Party(
        id=row.id,
        reputation=row.reputation,
        tokens=row.tokens,
        referrer_id=NO_USER if row.referrer_id is None else row.referrer_id,
        created_at=row.created_at.replace(tzinfo=UTC).timestamp(),
    )


class Votes(NamedTuple):
    """Every active vote on the contribution, a numpy array per column, in one order."""

    voter_ids: np.ndarray
    reputations: np.ndarray
    values: np.ndarray
    referrer_ids: np.ndarray
    created_at: np.ndarray
    """Seconds since the epoch."""
    ids: np.ndarray


VOTE_TYPES = (np.int64, np.float64, np.float64, np.int64, np.float64, np.int64)


def _from_arrays(rows) -> Votes:
    """PostgreSQL: the one row without a user id holds the votes as binary arrays."""
    (aggregate,) = (row for row in rows if row.id is None)
    return Votes(
        *(
            from_binary(aggregate._mapping[name], dtype)
            for name, dtype in zip(VOTE_COLUMNS, VOTE_TYPES, strict=True)
        )
    )


def _from_rows(rows) -> Votes:
    """SQLite: a row per vote (the rows with a vote id), turned into columns."""
    votes = [row for row in rows if row.vote_id is not None]
    referrers = [row.voter_referrer_id for row in votes]
    return Votes(
        np.array([row.voter_id for row in votes], np.int64),
        np.array([row.voter_reputation for row in votes], np.float64),
        np.array([row.vote_value for row in votes], np.float64),
        np.array([NO_USER if r is None else r for r in referrers], np.int64),
        np.array([(row.voter_created_at - EPOCH) / SECOND for row in votes], np.float64),
        np.array([row.vote_id for row in votes], np.int64),
    )


def _split(named: dict[int, Any], votes: Votes, evaluator_id: int) -> Parties:
    """Set the evaluator's own vote apart from the other voters'."""
    others = votes.voter_ids != evaluator_id
    own = None
    if not others.all():
        position = int(np.argmin(others))
        own = OwnVote(int(votes.ids[position]), float(votes.values[position]))
    voters = Voters(
        ids=votes.voter_ids[others],
        reputations=votes.reputations[others],
        values=votes.values[others],
        referrer_ids=votes.referrer_ids[others],
        created_at=votes.created_at[others],
    )
    return Parties(named, own, voters)


@cache
def _parties_statement(aggregated: bool):
    """The query of :func:`read_parties`, built once per form (SQLAlchemy reuses its compiled
    form): the named users, a row each, then the votes, as one row of arrays
    (``aggregated``, PostgreSQL) or a row each, in the columns :data:`VOTE_COLUMNS`.

    The named users' creation times come back naive (UTC), without a time-zone conversion
    per row; the voters' as seconds since the epoch.
    """
    user_columns = (
        USERS.c.id,
        USERS.c.reputation,
        USERS.c.tokens,
        USERS.c.referrer_id,
        type_coerce(USERS.c.created_at, DateTime()).label("created_at"),
    )
    # Two plain parameters rather than an expanding list, which SQLAlchemy would render
    # into the SQL text anew at every execution.
    named = select(*user_columns).where(
        USERS.c.id.in_((bindparam("evaluator"), bindparam("contributor"))),
        USERS.c.contract_id == bindparam("contract"),
    )
    columns, source = _vote_arrays() if aggregated else _vote_rows()
    votes = (
        select(*_nulls(user_columns), *_labelled(columns))
        .select_from(source)
        .where(EVALUATIONS.c.contribution_id == bindparam("contribution"), EVALUATIONS.c.active)
    )
    # Each query of the union has every column; SQLite converts the results by the types
    # of the first one, so its NULLs are typed.
    return union_all(named.add_columns(*_labelled(_nulls(columns))), votes)


def _vote_arrays():
    """PostgreSQL: the votes' columns as ``array_send(array_agg(…))``, one row in all, and
    the votes joined with their voters.

    Each voter is read by its primary key (a ``LIMIT 1`` lateral subquery, which PostgreSQL
    does not turn into a join): a plan may otherwise hash-join the votes with a scan of every
    user of the database, which a contribution with many voters, or the generic plan of the
    prepared statement where contributions have many voters on average, gets.
    """
    voter = (
        select(USERS.c.id, USERS.c.reputation, USERS.c.referrer_id, USERS.c.created_at)
        .where(USERS.c.id == EVALUATIONS.c.evaluator_id)
        .limit(literal_column("1"))
        .lateral("voter")
    )
    columns = (
        voter.c.id,
        voter.c.reputation,
        EVALUATIONS.c.value,
        func.coalesce(voter.c.referrer_id, literal(NO_USER)),
        cast(extract("epoch", voter.c.created_at), Double),
        EVALUATIONS.c.id,
    )
    arrays = [func.array_send(func.array_agg(column), type_=LargeBinary) for column in columns]
    return arrays, EVALUATIONS.join(voter, true())


def _vote_rows():
    """SQLite: the votes' columns, a row per vote, and the votes joined with their voters."""
    columns = (
        USERS.c.id,
        USERS.c.reputation,
        EVALUATIONS.c.value,
        USERS.c.referrer_id,
        type_coerce(USERS.c.created_at, DateTime()),
        EVALUATIONS.c.id,
    )
    return columns, EVALUATIONS.join(USERS, USERS.c.id == EVALUATIONS.c.evaluator_id)


def _labelled(columns):
    """The votes' ``columns`` under the names of :data:`VOTE_COLUMNS`."""
    return [column.label(name) for name, column in zip(VOTE_COLUMNS, columns, strict=True)]


def _nulls(columns):
    """A NULL of the type of each of ``columns``."""
    return [type_coerce(null(), column.type) for column in columns]
