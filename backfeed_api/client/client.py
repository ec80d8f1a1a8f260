"""The client of one contract: a method for every route, pages that follow their links, the
event feed as a long-polling iterator, and requests that are safe to send again.

Every POST carries an ``Idempotency-Key`` of its own, kept through its retries, so the
service applies it at most once however often it is sent. A request is sent again, at most
``retries`` times, when the connection fails and when the service answers ``429`` or
``503``: after the ``Retry-After`` the answer gives (exponential backoff without one),
unless that wait is longer than ``max_wait`` seconds (a daily allowance waits until
midnight UTC), when the error is raised at once with its ``retry_after``. Any other answer
of 400 or more raises :class:`~.errors.ApiError`, whose ``codes`` are the error codes of
the service.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from .errors import error_from
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
    Replay,
    Service,
    Stats,
    User,
    Webhook,
)

Item = TypeVar("Item")
RETRIED_STATUSES = frozenset({429, 503})
IDEMPOTENCY_HEADER = "Idempotency-Key"

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "service",
    ("GET", "/__api__"): "openapi",
    ("GET", "/{contract}"): "contract_info",
    ("PUT", "/{contract}"): "create_contract",
    ("PATCH", "/{contract}"): "change_parameters",
    ("GET", "/{contract}/versions"): "versions",
    ("GET", "/{contract}/users"): "users",
    ("POST", "/{contract}/users"): "create_user",
    ("GET", "/{contract}/users/{id}"): "user",
    ("GET", "/{contract}/users/{id}/history"): "history",
    ("GET", "/{contract}/ledger/{id}"): "ledger_entry",
    ("GET", "/{contract}/contributions"): "contributions",
    ("POST", "/{contract}/contributions"): "create_contribution",
    ("GET", "/{contract}/contributions/{id}"): "contribution",
    ("GET", "/{contract}/evaluations"): "evaluations",
    ("POST", "/{contract}/evaluations"): "evaluate",
    ("GET", "/{contract}/evaluations/{id}"): "evaluation",
    ("POST", "/{contract}/evaluations/batch"): "evaluate_batch",
    ("POST", "/{contract}/auth"): "login",
    ("DELETE", "/{contract}/auth"): "logout",
    ("GET", "/{contract}/auth/tokens"): "login_tokens",
    ("DELETE", "/{contract}/auth/tokens/{id}"): "revoke_login_token",
    ("GET", "/{contract}/events"): "events",
    ("POST", "/{contract}/webhooks"): "create_webhook",
    ("GET", "/{contract}/webhooks"): "webhooks",
    ("GET", "/{contract}/webhooks/{id}"): "webhook",
    ("PATCH", "/{contract}/webhooks/{id}"): "change_webhook",
    ("DELETE", "/{contract}/webhooks/{id}"): "delete_webhook",
    ("GET", "/{contract}/webhooks/{id}/deliveries"): "deliveries",
    ("POST", "/{contract}/replays"): "create_replay",
    ("GET", "/{contract}/replays"): "replays",
    ("GET", "/{contract}/replays/{id}"): "replay",
    ("GET", "/{contract}/replays/{id}/users.csv"): "replay_users_csv",
    ("GET", "/{contract}/replays/{id}/plot.png"): "replay_plot",
    ("GET", "/{contract}/stats"): "stats",
    ("GET", "/{contract}/leaderboard"): "leaderboard",
    ("GET", "/{contract}/dashboard"): "dashboard",
    ("GET", "/{contract}/dashboard/users/{id}"): "user_dashboard",
}
"""The method of :class:`Client` for each route of the API."""


def _query(**values: Any) -> dict[str, Any]:
    """The query parameters given (not None), booleans as the API writes them."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else value
        for name, value in values.items()
        if value is not None
    }


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds ``Retry-After`` asks to wait, or None."""
    text = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(text))
    except ValueError:
        return None


class Client:
    """A client of one contract of a backfeed deployment.

    ``base_url`` is the service's root (``https://api.example.org``), ``contract`` the name
    of the contract, ``token`` a bearer token (of that contract) for the writes and for the
    reads of a deployment whose reads are private. ``transport`` is handed to ``httpx`` (a
    test's ``httpx.WSGITransport``, say).
    """

    def __init__(
        self,
        base_url: str,
        contract: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        max_wait: float = 30.0,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.contract = contract
        self.token = token
        self.retries = retries
        self.max_wait = max_wait
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------

    def _path(self, *parts: object) -> str:
        return "/" + "/".join(str(part) for part in (self.contract, *parts))

    def _headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request (again when it may be: see the module) and return its answer;
        raise :class:`~.errors.ApiError` for an answer of 400 or more."""
        sent = {**self._headers(), **(headers or {})}
        if method == "POST":
            sent.setdefault(IDEMPOTENCY_HEADER, uuid.uuid4().hex)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(method, url, params=params, json=body, headers=sent)
            except httpx.TransportError as error:
                # a DELETE is sent again only when it never reached the service
                if last or (method == "DELETE" and not isinstance(error, httpx.ConnectError)):
                    raise
                self._sleep(self.backoff * 2**attempt)
                continue
            if response.status_code in RETRIED_STATUSES and not last:
                wait = _retry_after(response)
                wait = self.backoff * 2**attempt if wait is None else wait
                if wait <= self.max_wait:
                    self._sleep(wait)
                    continue
            if response.status_code >= 400:
                raise error_from(response.status_code, _json(response), _retry_after(response))
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _get(self, url: str, **params: Any) -> Any:
        return self.request("GET", url, params=_query(**params)).json()

    def _post(self, url: str, body: dict, **params: Any) -> Any:
        return self.request("POST", url, params=_query(**params) or None, body=body).json()

    def _page(self, url: str, item: Callable[[dict], Item], **params: Any) -> Page[Item]:
        return Page.of(self._get(url, **params), item)

    def _pages(self, url: str, item: Callable[[dict], Item], **params: Any) -> Iterator[Item]:
        """Every item of a list, following each page's ``next`` link."""
        page = self._page(url, item, **params)
        while True:
            yield from page.items
            if page.next is None:
                return
            page = Page.of(self.request("GET", page.next).json(), item)

    # -- the service and the contract ----------------------------------------------------

    def service(self) -> Service:
        """``GET /``: the version and the contracts served."""
        return Service.of(self._get("/"))

    def openapi(self) -> dict:
        """``GET /__api__``: the OpenAPI document of the deployment."""
        return self._get("/__api__")

    def contract_info(self) -> Contract:
        """``GET /{contract}``: kind, parameters, contribution types, totals."""
        return Contract.of(self._get(self._path()))

    def create_contract(self, kind: str, parameters: dict[str, Any] | None = None) -> Contract:
        """``PUT /{contract}``: create this client's contract, of ``kind`` with
        ``parameters`` (overrides of the kind's defaults); the same again changes nothing. A
        service-wide admin token (``backfeed token create --service``)."""
        body = {"kind": kind, "parameters": parameters or {}}
        return Contract.of(self.request("PUT", self._path(), body=body).json())

    def change_parameters(self, **parameters: Any) -> Contract:
        """``PATCH /{contract}``: set parameters (``None``: back to the kind's default) as a
        new version of the configuration, for the actions committed after it. Names with a
        dot (``article.fee``) go as ``change_parameters(**{"article.fee": 2})``. An admin
        token."""
        body = {"parameters": parameters}
        return Contract.of(self.request("PATCH", self._path(), body=body).json())

    def versions(self, **params: Any) -> Page[ContractVersion]:
        """``GET /{contract}/versions``: a page of the versions of the configuration, oldest
        first (``limit``, ``start``, ``since_id``, ``max_id`` over the version numbers)."""
        return self._page(self._path("versions"), ContractVersion.of, **params)

    # -- users -----------------------------------------------------------------------------

    def users(self, **params: Any) -> Page[User]:
        """``GET /{contract}/users``: a page (``order_by``, ``limit``, ``start``,
        ``since_id``, ``max_id``)."""
        return self._page(self._path("users"), User.of, **params)

    def iter_users(self, **params: Any) -> Iterator[User]:
        """Every user, page after page."""
        return self._pages(self._path("users"), User.of, **params)

    def user(self, user_id: int) -> User:
        """``GET /{contract}/users/{id}``."""
        return User.of(self._get(self._path("users", user_id)))

    def create_user(self, **fields: Any) -> User:
        """``POST /{contract}/users`` (``reputation``, ``tokens``, ``referrer_id``,
        ``username``, ``password``; an admin token)."""
        return User.of(self._post(self._path("users"), _query(**fields)))

    def history(self, user_id: int, **params: Any) -> Page[LedgerEntry]:
        """``GET /{contract}/users/{id}/history``: a page of the user's ledger."""
        return self._page(self._path("users", user_id, "history"), LedgerEntry.of, **params)

    def iter_history(self, user_id: int, **params: Any) -> Iterator[LedgerEntry]:
        """The user's whole ledger, newest first."""
        return self._pages(self._path("users", user_id, "history"), LedgerEntry.of, **params)

    def ledger_entry(self, entry_id: int) -> LedgerEntry:
        """``GET /{contract}/ledger/{id}``: one ledger entry and its explanation."""
        return LedgerEntry.of(self._get(self._path("ledger", entry_id)))

    # -- contributions -----------------------------------------------------------------------

    def contributions(self, **params: Any) -> Page[Contribution]:
        """``GET /{contract}/contributions``: a page (``contributor_id``, ``type``,
        ``order_by``, ``limit``, ``start``, ``since_id``, ``max_id``)."""
        return self._page(self._path("contributions"), Contribution.of, **params)

    def iter_contributions(self, **params: Any) -> Iterator[Contribution]:
        """Every contribution, page after page."""
        return self._pages(self._path("contributions"), Contribution.of, **params)

    def contribution(self, contribution_id: int) -> Contribution:
        """``GET /{contract}/contributions/{id}``."""
        return Contribution.of(self._get(self._path("contributions", contribution_id)))

    def create_contribution(self, contributor_id: int, type: str | None = None) -> Contribution:
        """``POST /{contract}/contributions``."""
        body = _query(contributor_id=contributor_id, type=type)
        return Contribution.of(self._post(self._path("contributions"), body))

    # -- evaluations ---------------------------------------------------------------------------

    def evaluations(self, **params: Any) -> Page[Evaluation]:
        """``GET /{contract}/evaluations``: a page (``contribution_id``, ``evaluator_id``,
        ``value``, ``include_superseded``, ``limit``, ``start``, ``since_id``, ``max_id``)."""
        return self._page(self._path("evaluations"), Evaluation.of, **params)

    def iter_evaluations(self, **params: Any) -> Iterator[Evaluation]:
        """Every evaluation, page after page."""
        return self._pages(self._path("evaluations"), Evaluation.of, **params)

    def evaluation(self, evaluation_id: int) -> Evaluation:
        """``GET /{contract}/evaluations/{id}``, active or superseded."""
        return Evaluation.of(self._get(self._path("evaluations", evaluation_id)))

    def evaluate(self, evaluator_id: int, contribution_id: int, value: float) -> Evaluation:
        """``POST /{contract}/evaluations``: vote (the standing vote when it repeats it)."""
        body = {"evaluator_id": evaluator_id, "contribution_id": contribution_id, "value": value}
        return Evaluation.of(self._post(self._path("evaluations"), body))

    def evaluate_batch(self, votes: list[tuple[int, int, float]]) -> list[Evaluation]:
        """``POST /{contract}/evaluations/batch``: (evaluator, contribution, value) votes, all
        applied or none (:class:`~.errors.BatchRefused` lists the refused ones)."""
        items = [
            {"evaluator_id": evaluator, "contribution_id": contribution, "value": value}
            for evaluator, contribution, value in votes
        ]
        answer = self._post(self._path("evaluations", "batch"), {"evaluations": items})
        return [Evaluation.of(item) for item in answer["evaluations"]]

    # -- logging in ----------------------------------------------------------------------------

    def login(self, username: str, password: str, *, use: bool = True) -> Login:
        """``POST /{contract}/auth``: a user token; the client sends it from then on unless
        ``use`` is false."""
        found = Login.of(
            self._post(self._path("auth"), {"username": username, "password": password})
        )
        if use:
            self.token = found.token
        return found

    def logout(self) -> None:
        """``DELETE /{contract}/auth``: revoke the client's token, and stop sending it."""
        self.request("DELETE", self._path("auth"))
        self.token = None

    def login_tokens(self, **params: Any) -> Page[LoginToken]:
        """``GET /{contract}/auth/tokens``: the live login tokens of the token's user."""
        return self._page(self._path("auth", "tokens"), LoginToken.of, **params)

    def revoke_login_token(self, token_id: int) -> None:
        """``DELETE /{contract}/auth/tokens/{id}``: revoke one of the user's login tokens."""
        self.request("DELETE", self._path("auth", "tokens", token_id))

    # -- events --------------------------------------------------------------------------------

    def events(
        self,
        after: int | None = None,
        types: list[str] | None = None,
        limit: int | None = None,
        wait: int | None = None,
    ) -> list[Event]:
        """``GET /{contract}/events``: the events after the id ``after``, of ``types``; with
        ``wait``, the service holds the request up to that many seconds for the first."""
        answer = self._get(
            self._path("events"),
            after=after,
            types=None if types is None else ",".join(types),
            limit=limit,
            wait=wait,
        )
        return [Event.of(item) for item in answer["items"]]

    def iter_events(
        self,
        after: int | None = None,
        types: list[str] | None = None,
        *,
        wait: int = 25,
        until_idle: bool = False,
    ) -> Iterator[Event]:
        """Every event after ``after``, as they are committed: long polls, each waiting up
        to ``wait`` seconds; without end, unless ``until_idle`` (then it ends at the first
        poll that brings nothing)."""
        while True:
            found = self.events(after=after, types=types, wait=wait)
            if not found and until_idle:
                return
            for event in found:
                after = event.id
                yield event

    # -- webhooks (admin tokens) -----------------------------------------------------------

    def create_webhook(
        self, url: str, types: list[str] | None = None, description: str | None = None
    ) -> Webhook:
        """``POST /{contract}/webhooks``: subscribe ``url`` to the events of ``types`` (every
        type when None); the answer's ``secret`` is shown this once."""
        body: dict[str, Any] = {"url": url}
        if types is not None:
            body["types"] = types
        if description is not None:
            body["description"] = description
        return Webhook.of(self._post(self._path("webhooks"), body))

    def webhooks(self, **params: Any) -> Page[Webhook]:
        """``GET /{contract}/webhooks``: a page of the contract's webhooks."""
        return self._page(self._path("webhooks"), Webhook.of, **params)

    def webhook(self, webhook_id: int) -> Webhook:
        """``GET /{contract}/webhooks/{id}``."""
        return Webhook.of(self._get(self._path("webhooks", webhook_id)))

    def change_webhook(self, webhook_id: int, **changes: Any) -> Webhook:
        """``PATCH /{contract}/webhooks/{id}``: change ``url``, ``types``, ``description`` or
        ``enabled`` (true resumes a failing webhook)."""
        answer = self.request("PATCH", self._path("webhooks", webhook_id), body=changes)
        return Webhook.of(answer.json())

    def delete_webhook(self, webhook_id: int) -> None:
        """``DELETE /{contract}/webhooks/{id}``: stop and forget the webhook."""
        self.request("DELETE", self._path("webhooks", webhook_id))

    def deliveries(self, webhook_id: int, **params: Any) -> Page[Delivery]:
        """``GET /{contract}/webhooks/{id}/deliveries``: a page of its delivery attempts."""
        return self._page(self._path("webhooks", webhook_id, "deliveries"), Delivery.of, **params)

    # -- replays (admin tokens) ------------------------------------------------------------

    def create_replay(self, parameters: dict[str, Any]) -> Replay:
        """``POST /{contract}/replays``: queue a what-if replay of the contract's history
        with ``parameters`` changed (``{}``: as they are)."""
        return Replay.of(self._post(self._path("replays"), {"parameters": parameters}))

    def replays(self, **params: Any) -> Page[Replay]:
        """``GET /{contract}/replays``: a page of the replays not expired, newest first."""
        return self._page(self._path("replays"), Replay.of, **params)

    def replay(self, replay_id: int) -> Replay:
        """``GET /{contract}/replays/{id}``: its status, progress and, once done, report."""
        return Replay.of(self._get(self._path("replays", replay_id)))

    def wait_for_replay(
        self, replay_id: int, timeout: float = 300.0, every: float = 0.5
    ) -> Replay:
        """Poll the replay every ``every`` seconds until it is done or failed; raise
        ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            replay = self.replay(replay_id)
            if replay.finished:
                return replay
            if time.monotonic() >= deadline:
                raise TimeoutError(f"replay {replay_id} is still {replay.status}")
            self._sleep(every)

    def replay_users_csv(self, replay_id: int) -> str:
        """``GET /{contract}/replays/{id}/users.csv``: every user's balances, actual and
        what-if, as CSV text."""
        return self.request("GET", self._path("replays", replay_id, "users.csv")).text

    def replay_plot(self, replay_id: int) -> bytes:
        """``GET /{contract}/replays/{id}/plot.png``: the replay's plot, as PNG bytes."""
        return self.request("GET", self._path("replays", replay_id, "plot.png")).content

    # -- statistics and pages ------------------------------------------------------------

    def stats(self, period: str | None = None, buckets: int | None = None) -> Stats:
        """``GET /{contract}/stats``: the community's figures over ``period`` (``day``,
        ``week``, ``month``, ``year`` or ``all``)."""
        return Stats.of(self._get(self._path("stats"), period=period, buckets=buckets))

    def leaderboard(self, **params: Any) -> Leaderboard:
        """``GET /{contract}/leaderboard`` (``metric``, ``period``, ``user_id``, ``limit``,
        ``start``)."""
        return Leaderboard.of(self._get(self._path("leaderboard"), **params))

    def dashboard(self) -> str:
        """``GET /{contract}/dashboard``: the dashboard's HTML page."""
        return self.request("GET", self._path("dashboard")).text

    def user_dashboard(self, user_id: int) -> str:
        """``GET /{contract}/dashboard/users/{id}``: a user's HTML page."""
        return self.request("GET", self._path("dashboard", "users", user_id)).text


def _json(response: httpx.Response) -> object:
    """The answer's JSON body, or None when it has none."""
    try:
        return response.json()
    except ValueError:
        return None
