"""A Python client of the backfeed HTTP API: one :class:`Client` per contract.

It stands apart from the service: it imports nothing of ``backfeed_api`` or ``protocol``,
only ``httpx`` and the standard library, so an application can use it against any
deployment::

    from backfeed_api.client import Client

    with Client("https://api.example.org", "example", token="…") as client:
        ann = client.create_user(tokens=10)
        for user in client.iter_users(order_by="-reputation"):
            print(user.id, user.reputation)
"""

from .client import Client
from .errors import ApiError, BatchRefused, ErrorItem, FailedItem
from .models import (
    Contract,
    ContractVersion,
    Contribution,
    Delivery,
    Evaluation,
    Event,
    Leaderboard,
    LedgerEntry,
    Login,
    LoginToken,
    Page,
    Rank,
    Replay,
    Service,
    Stats,
    User,
    Webhook,
)

__all__ = [
    "ApiError",
    "BatchRefused",
    "Client",
    "Contract",
    "ContractVersion",
    "Contribution",
    "Delivery",
    "ErrorItem",
    "Evaluation",
    "Event",
    "FailedItem",
    "Leaderboard",
    "LedgerEntry",
    "Login",
    "LoginToken",
    "Page",
    "Rank",
    "Replay",
    "Service",
    "Stats",
    "User",
    "Webhook",
]
