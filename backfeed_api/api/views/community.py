"""``/{contract}/stats`` and ``/{contract}/leaderboard``: the economy at a glance."""

from __future__ import annotations

from cornice import Service
from sqlalchemy import select

from ...auth.policy import READ
from ...domain.community_stats import community_stats
from ...domain.leaderboard import Standing, leaderboard
from ...domain.users import find_user
from ...errors import not_found
from ...models import User
from ..presenters import Presenter
from ..responses import answer
from ..schemas import ReadLeaderboard, ReadStats
from ..validation import validate
from .common import query

stats = Service(
    name="stats",
    path="/{contract}/stats",
    description="The contract's activity, concentration of reputation, agreement and issuance "
    "over a period.",
)
board = Service(
    name="leaderboard",
    path="/{contract}/leaderboard",
    description="The users ranked by balance or by what they gained over a period.",
)


@stats.get(
    schema=ReadStats(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The contract's figures over the period.", "Stats")},
)
def get_stats(request) -> dict:
    """The pulse of the period in equal buckets, its most active users, the concentration
    of reputation now, the agreement of its votes and what its ledger issued."""
    q = query(request)
    return community_stats(
        request.dbsession, request.contract, q["period"], q["buckets"], request.now
    )


@board.get(
    schema=ReadLeaderboard(),
    validators=(validate,),
    permission=READ,
    response_schemas={
        "200": answer("A page of the users by the metric, most first.", "Leaderboard")
    },
)
def get_leaderboard(request) -> dict:
    """A page of the users by ``metric``, most first; users with equal values share a
    rank. With ``user_id``, also that user's own rank and value (``me``)."""
    q = query(request)
    session, contract = request.dbsession, request.contract
    user_id = q.get("user_id")
    if user_id is not None and find_user(session, contract, user_id) is None:
        raise not_found("user")
    found = leaderboard(
        session,
        contract,
        q["metric"],
        q["period"],
        request.now,
        start=q["start"],
        limit=q["limit"],
        user_id=user_id,
    )
    ids = [item.user_id for item in found.items]
    rows = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    presenter = Presenter(session, contract, request.now)
    answer = {
        "metric": q["metric"],
        "period": q["period"],
        "count": len(found.items),
        "_meta": {"total": found.total, "limit": q["limit"], "start": q["start"]},
        "items": [
            {"rank": item.rank, "user": presenter.user(rows[item.user_id]), "value": item.value}
            for item in found.items
        ],
    }
    if found.own is not None:
        answer["me"] = standing(found.own)
    return answer


def standing(own: Standing) -> dict:
    """A user's own place: ``{"rank", "value"}``."""
    return {"rank": own.rank, "value": own.value}
