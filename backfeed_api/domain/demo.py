"""A demo community, seeded through the same actions as the API: users who can log in (some
referred by others), contributions of every type, votes that agree and that dissent, and a
few changes of mind, spread over the past week.

Every action goes through the domain's own functions, so the ledger holds each one and
``backfeed check`` finds the books balanced, and writes its event through the
:class:`Recorder` given, which renders it as the API answers it (the API layer's
``ActionEvents``): the feed of a seeded contract is the one its actions through the API
would have made. A vote the contract's rules refuse (a daily
allowance, a fee too high for what a user holds) is left out, as a real user's would be.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pyramid.config import Configurator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import ProtocolError

from ..models import Contribution, User
from .catalog import ServedContract
from .contributions import create_contribution
from .evaluations import VoteOutcome, evaluate
from .events import Change
from .users import create_user

log = logging.getLogger(__name__)

DEFAULT_USERS = 15
WEEK = timedelta(days=7)
STARTING_TOKENS = 100.0
"""What each demo user starts with, enough for a few contributions of any shipped type."""


@dataclass(frozen=True)
class Login:
    """A demo user and how to log in as it."""

    user_id: int
    username: str
    password: str


@dataclass(frozen=True)
class Community:
    """What seeding made: the logins of its users and how many of each thing."""

    logins: list[Login]
    contributions: int
    evaluations: int


class Recorder(Protocol):
    """Writes the event of each action applied, in the action's transaction."""

    def user(self, now: datetime, new: User, changes: Sequence[Change]) -> object:
        """The event of a new user."""

    def contribution(self, now: datetime, new: Contribution, changes: Sequence[Change]) -> object:
        """The event of a new contribution."""

    def vote(self, now: datetime, outcome: VoteOutcome) -> object:
        """The event of a vote, if it was recorded."""


RecorderFactory = Callable[[Session, ServedContract], Recorder]
"""Makes the :class:`Recorder` of a contract's actions in a session."""


def _password() -> str:
    """A fresh random password, which the service's rules accept."""
    return secrets.token_urlsafe(12)


def seed_community(
    session: Session,
    contract: ServedContract,
    now: datetime,
    recorder: Recorder,
    users: int = DEFAULT_USERS,
    seed: int = 0,
) -> Community:
    """Seed ``contract`` with ``users`` demo users and their work, the last action at
    ``now``, each action's event written by ``recorder``; the same ``seed`` makes the same
    community (passwords aside, which are new each time)."""
    rng = random.Random(seed)
    types = list(contract.rules.params.types)
    first = _user_count(session, contract) + 1  # demo<n> names stay unique when seeded again
    steps = users * 6
    moments = iter(now - WEEK + WEEK * (i + 1) / steps for i in range(steps))
    logins: list[Login] = []
    for number in range(users):
        referrer = rng.choice(logins).user_id if logins and rng.random() < 0.3 else None
        username, password = f"demo{first + number}", _password()
        moment = next(moments)
        user, changes = create_user(
            session,
            contract,
            moment,
            tokens=STARTING_TOKENS,
            referrer_id=referrer,
            username=username,
            password=password,
        )
        recorder.user(moment, user, changes)
        logins.append(Login(user.id, username, password))
    ids = [login.user_id for login in logins]
    made = []
    for number in range(users * 2):
        author = rng.choice(ids)
        kind = types[number % len(types)]
        moment = next(moments)
        try:
            contribution, changes = create_contribution(session, contract, moment, author, kind)
        except ProtocolError:
            continue
        recorder.contribution(moment, contribution, changes)
        made.append(contribution)
    evaluations = 0
    for contribution in made:
        kind = contract.rules.contribution_type(contribution.type)
        quality = rng.random()  # how good the work is: most voters agree, some dissent
        voters = rng.sample(
            [i for i in ids if i != contribution.contributor_id], k=min(5, users - 1)
        )
        for voter in voters:
            value = _opinion(rng, kind.evaluation_set, quality)
            evaluations += _vote(session, contract, now, recorder, voter, contribution.id, value)
            if rng.random() < 0.1:  # a change of mind
                other = rng.choice([v for v in kind.evaluation_set if v != value] or [value])
                evaluations += _vote(
                    session, contract, now, recorder, voter, contribution.id, other
                )
    return Community(logins, len(made), evaluations)


def _opinion(rng: random.Random, values: tuple[float, ...], quality: float) -> float:
    """A voter's value: the highest for good work and the lowest for poor, with dissent."""
    ordered = sorted(values)
    agrees = rng.random() < 0.8
    good = quality >= 0.5
    return ordered[-1] if agrees == good else ordered[0]


def _vote(
    session: Session,
    contract: ServedContract,
    now: datetime,
    recorder: Recorder,
    voter: int,
    contribution_id: int,
    value: float,
) -> int:
    """Vote, as the API would, its event written; 1 when the vote was recorded, 0 when
    refused or repeated."""
    try:
        outcome = evaluate(
            session,
            contract,
            now,
            evaluator_id=voter,
            contribution_id=contribution_id,
            value=value,
        )
    except ProtocolError:
        return 0
    recorder.vote(now, outcome)
    return int(outcome.created)


def _user_count(session: Session, contract: ServedContract) -> int:
    """How many users the contract has."""
    return session.scalar(select(func.count()).where(User.contract_id == contract.row_id))


def seed_empty_contracts(config: Configurator, recorder_for: RecorderFactory) -> None:
    """With ``backfeed.demo``, seed every empty contract at start-up and log the logins;
    ``recorder_for`` makes the recorder of each contract's events."""
    from ..settings import DEMO

    if not DEMO.read(config.get_settings()):
        return
    now = config.registry["clock"]()
    with config.registry["dbsession_factory"]() as session, session.begin():
        for contract in config.registry["contracts"]:
            if _user_count(session, contract):
                continue
            community = seed_community(session, contract, now, recorder_for(session, contract))
            log.warning(
                "backfeed.demo: seeded contract %s with %d users, %d contributions and %d "
                "evaluations; log in (POST /%s/auth) as: %s",
                contract.name,
                len(community.logins),
                community.contributions,
                community.evaluations,
                contract.name,
                ", ".join(f"{login.username} / {login.password}" for login in community.logins),
            )
