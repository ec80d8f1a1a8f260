"""A user's history: its own ledger entries and its shares of the collective losses, newest
first, a page at a time.

A collective loss (a ledger entry without a user, :mod:`.losses`) applies to every user of
its contract but those it spared, who have an exemption row. A user's own entries and its
exemption rows are its *anchors*: moments at which its balances are stored. Between an
anchor and the next one, every collective loss of the contract applied to the user (one that
spared it would be an anchor), so its reputation after any of them is the anchor's times
the product of the factors since the anchor, which the losses' scales give
(:class:`.scale.Scale`), and its tokens are the anchor's. Each such loss is an entry of the
user's history, with the collective entry's id, cause and time, unless the user's
reputation was 0, which no factor changes.

Two queries give a page: one sizes the run of losses after every anchor of the user (an
index range count each), which places the page and gives the total; one reads the page's
own entries and its losses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from ..models import LedgerEntry, LedgerExemption, User
from .listing import EVERY_ID, IdWindow, Page
from .scale import Scale

LARGEST_OFFSET = 2**63 - 1
"""The largest offset the databases take: a page starting there is past every history."""
LEDGER = LedgerEntry.__table__
EXEMPTIONS = LedgerExemption.__table__
USERS = User.__table__


def collective_entries(contract_id) -> tuple:
    """The conditions on the ledger selecting a contract's collective entries."""
    return LEDGER.c.contract_id == contract_id, LEDGER.c.user_id.is_(None)


def anchors(contract_id: int, user_id: int | None = None) -> Select:
    """The anchors of one user, or of every user of the contract: ``pos`` (the ledger id),
    ``user_id``, ``own`` (1 for an entry of the user's own, 0 for an exemption), its
    ``reputation`` and ``tokens`` after, and ``next``, the ``pos`` of the user's next anchor
    (NULL for the last)."""
    own = select(
        LEDGER.c.id.label("pos"),
        LEDGER.c.user_id,
        literal(1, BigInteger).label("own"),
        LEDGER.c.reputation,
        LEDGER.c.tokens,
    )
    spared = select(
        EXEMPTIONS.c.ledger_id,
        EXEMPTIONS.c.user_id,
        literal(0, BigInteger),
        EXEMPTIONS.c.reputation,
        EXEMPTIONS.c.tokens,
    )
    if user_id is None:
        own = own.where(LEDGER.c.contract_id == contract_id, LEDGER.c.user_id.is_not(None))
        spared = spared.join(USERS, USERS.c.id == EXEMPTIONS.c.user_id).where(
            USERS.c.contract_id == contract_id
        )
    else:
        own = own.where(LEDGER.c.user_id == user_id)
        spared = spared.where(EXEMPTIONS.c.user_id == user_id)
    found = union_all(own, spared).subquery("anchors")
    following = func.lead(found.c.pos).over(partition_by=found.c.user_id, order_by=found.c.pos)
    return select(*found.c, following.label("next"))


def losses_after(contract_id: int, runs) -> tuple:
    """The conditions selecting the collective entries in the run of each row of ``runs``
    (a subquery of :func:`anchors`): after its ``pos``, before its ``next``."""
    return (
        *collective_entries(contract_id),
        LEDGER.c.id > runs.c.pos,
        or_(runs.c.next.is_(None), LEDGER.c.id < runs.c.next),
    )


def scale_at(contract_id: int, pos) -> tuple:
    """The contract's scale (value, exponent) once its ledger reached the id ``pos``: that of
    its latest collective entry up to it, 1 and 0 before the first."""
    latest = (
        select(LEDGER.c.scale)
        .where(*collective_entries(contract_id), LEDGER.c.id <= pos)
        .order_by(LEDGER.c.id.desc())
        .limit(1)
    )
    exponent = latest.with_only_columns(LEDGER.c.scale_exponent)
    return (
        func.coalesce(latest.scalar_subquery(), 1.0).label("scale"),
        func.coalesce(exponent.scalar_subquery(), 0).label("scale_exponent"),
    )


@dataclass(frozen=True)
class _Run:
    """An anchor of the user and the losses after it, as the history lists them: its
    ``losses`` newest first, then the anchor itself if it is an entry of its own. ``newer``
    items of the history come before it."""

    pos: int
    own: bool
    reputation: float
    tokens: float
    next: int | None
    losses: int
    newer: int
    scale: Scale

    @property
    def own_position(self) -> int:
        """Where its own entry is in the history."""
        return self.newer + self.losses


def user_history(
    session: Session,
    contract_id: int,
    user_id: int,
    *,
    start: int,
    limit: int,
    window: IdWindow = EVERY_ID,
) -> Page:
    """The entries ``start`` to ``start + limit`` of the user's history, newest first, and
    how many it holds in all; with a ``window``, of the part of the history inside it.

    The history is in descending id order, so a window is a run of positions: it begins
    after the entries from ``max_id`` up and ends before those from ``since_id`` down, which
    :func:`_count_newer` counts."""
    if not window:
        return _history_page(session, contract_id, user_id, start, limit)
    first = 0
    if window.max_id is not None:  # the entries from max_id up come before the window
        first = _count_newer(session, contract_id, user_id, LEDGER.c.id >= window.max_id)
    offset = min(first + start, LARGEST_OFFSET)  # past the end either way
    full = _history_page(session, contract_id, user_id, offset, limit)
    end = full.total
    if window.since_id is not None:  # the window ends with the entries above since_id
        end = _count_newer(session, contract_id, user_id, LEDGER.c.id > window.since_id)
    return Page(full.items[: max(0, end - first - start)], max(0, end - first))


def _count_newer(session: Session, contract_id: int, user_id: int, newer) -> int:
    """How many entries of the user's history have an id that meets ``newer`` (a condition
    on the ledger's id bounding it from below): its own entries, and its shares of the
    collective losses."""
    found = anchors(contract_id, user_id).subquery("found")
    losses = (
        select(func.count())
        .select_from(LEDGER)
        .where(*losses_after(contract_id, found), newer)
        .scalar_subquery()
    )
    own_entry = select(LEDGER.c.id).where(LEDGER.c.id == found.c.pos, newer).exists()
    own = case((and_(found.c.own == 1, own_entry), 1), else_=0)
    shares = case((found.c.reputation == 0, literal(0, BigInteger)), else_=losses)
    return int(session.scalar(select(func.coalesce(func.sum(own + shares), 0))))


def _history_page(
    session: Session, contract_id: int, user_id: int, start: int, limit: int
) -> Page:
    """The entries ``start`` to ``start + limit`` of the user's whole history."""
    end = min(start + limit, LARGEST_OFFSET)
    runs, total, horizon = _runs(session, contract_id, user_id, start, end)
    own = [run.pos for run in runs if run.own and start <= run.own_position < end]
    slices = {
        run.pos: (max(start, run.newer) - run.newer, min(end, run.newer + run.losses))
        for run in runs
        if run.newer < end and run.newer + run.losses > start
    }
    entries = {
        entry.id: entry
        for entry in (
            session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(own))) if own else []
        )
    }
    losses = _read_losses(session, contract_id, runs, slices, horizon)
    items: list[LedgerEntry] = []
    for run in runs:
        if run.pos in slices:
            first, stop = slices[run.pos]
            items += _entries(user_id, run, losses.get(run.pos, []), stop - run.newer - first)
        if run.pos in entries:
            items.append(entries[run.pos])
    return Page(items, total)


def _runs(
    session: Session, contract_id: int, user_id: int, start: int, end: int
) -> tuple[list[_Run], int, int | None]:
    """The user's runs with items from ``start`` to ``end``, newest first, the total, and
    the contract's latest collective entry then (the end of the last run, which a vote
    committed since must not lengthen)."""
    found = anchors(contract_id, user_id).subquery("found")
    count = (
        select(func.count())
        .select_from(LEDGER)
        .where(*losses_after(contract_id, found))
        .scalar_subquery()
    )
    sized = select(
        *found.c,
        case((found.c.reputation == 0, literal(0, BigInteger)), else_=count).label("losses"),
    ).subquery("sized")
    size = sized.c.own + sized.c.losses
    placed = select(
        *sized.c,
        (func.sum(size, type_=BigInteger).over(order_by=sized.c.pos.desc()) - size).label("newer"),
        func.sum(size, type_=BigInteger).over().label("total"),
    ).subquery("placed")
    extent = placed.c.newer + placed.c.own + placed.c.losses
    on_page = and_(placed.c.newer < end, extent > start)
    horizon = (
        select(func.max(LEDGER.c.id)).where(*collective_entries(contract_id)).scalar_subquery()
    )
    rows = session.execute(
        select(*placed.c, *scale_at(contract_id, placed.c.pos), horizon.label("horizon"))
        # the oldest run too, so that a page past the end still learns the total
        .where(or_(on_page, extent == placed.c.total))
        .order_by(placed.c.pos.desc())
    ).all()
    runs = [
        _Run(
            pos=row.pos,
            own=bool(row.own),
            reputation=row.reputation,
            tokens=row.tokens,
            next=row.next,
            losses=int(row.losses),
            newer=int(row.newer),
            scale=Scale(row.scale, int(row.scale_exponent)),
        )
        for row in rows
    ]
    total, latest = (int(rows[0].total), rows[0].horizon) if rows else (0, None)
    on_page = [run for run in runs if run.newer < end and run.own_position + run.own > start]
    return on_page, total, latest


def _read_losses(
    session: Session,
    contract_id: int,
    runs: list[_Run],
    slices: dict[int, tuple[int, int]],
    horizon: int | None,
) -> dict[int, list]:
    """For each run in ``slices`` (``pos`` → its first item on the page, from its newest
    loss, and the end of the page's items in the history), its losses on the page newest
    first, and one older loss of the run if there is one (its scale is the balance before
    the oldest loss of the page); none after ``horizon``."""
    parts = []
    for run in runs:
        if run.pos not in slices:
            continue
        first, stop = slices[run.pos]
        bounds = [
            LEDGER.c.id > run.pos,
            LEDGER.c.id < run.next if run.next else LEDGER.c.id <= horizon,
        ]
        parts.append(
            select(
                select(LEDGER, literal(run.pos).label("run"))
                .where(*collective_entries(contract_id), *bounds)
                .order_by(LEDGER.c.id.desc())
                .offset(first)
                .limit(stop - run.newer - first + 1)
                .subquery()
            )
        )
    found: dict[int, list] = {}
    if parts:
        for row in session.execute(union_all(*parts)):
            found.setdefault(row.run, []).append(row)
    for losses in found.values():
        losses.sort(key=lambda row: row.id, reverse=True)
    return found


def _entries(user_id: int, run: _Run, losses: list, count: int) -> list[LedgerEntry]:
    """The user's entries for the first ``count`` of ``losses`` (newest first; one more,
    older, may follow), as ledger entries that are not stored, explained by the share of
    the loss (the term after the loss's own, :mod:`.explanations`)."""
    balances = [
        run.reputation * Scale(loss.scale, loss.scale_exponent).since(run.scale) for loss in losses
    ]
    entries = []
    for index, loss in enumerate(losses[:count]):
        before = balances[index + 1] if index + 1 < len(losses) else run.reputation
        entries.append(
            LedgerEntry(
                id=loss.id,
                contract_id=loss.contract_id,
                user_id=user_id,
                cause_type=loss.cause_type,
                cause_id=loss.cause_id,
                reputation_delta=balances[index] - before,
                tokens_delta=0.0,
                reputation=balances[index],
                tokens=run.tokens,
                created_at=loss.created_at,
                factor=loss.factor,
                contribution_id=loss.contribution_id,
                terms=None if loss.terms is None else loss.terms << 1,
            )
        )
    return entries


def loss_changes(session: Session, contract_id: int) -> dict[int, float]:
    """By user, the sum of the reputation changes of the losses its history lists: in each
    run, the balance after its last loss less the anchor's (the changes of a run add up to
    that)."""
    runs = anchors(contract_id).subquery("runs")
    last = select(func.max(LEDGER.c.id)).where(*losses_after(contract_id, runs)).scalar_subquery()
    ends = (
        select(
            runs.c.user_id,
            runs.c.reputation,
            *scale_at(contract_id, runs.c.pos),
            last.label("last"),
        )
        .where(runs.c.reputation != 0)
        .subquery("ends")
    )
    rows = session.execute(
        select(ends, *scale_at(contract_id, ends.c.last)).where(ends.c.last.is_not(None))
    ).all()
    changes: dict[int, float] = {}
    for user_id, reputation, scale, exponent, _, last_scale, last_exponent in rows:
        since = Scale(last_scale, int(last_exponent)).since(Scale(scale, int(exponent)))
        changes[user_id] = changes.get(user_id, 0.0) + reputation * since - reputation
    return changes
