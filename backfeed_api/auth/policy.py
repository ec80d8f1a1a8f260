"""Who may do what: bearer tokens, the Pyramid security policy and the view permissions.

A request's identity comes from its ``Authorization: Bearer <token>`` header, looked up once
per request (:attr:`request.credential <Credential>`): the development token of the
settings, or a stored, unrevoked token of one contract and one role. The context of a
request is the contract named in its URL (:class:`Resource`); each view declares one of the
permissions below, and :meth:`BearerTokenPolicy.permits` decides, returning a
:class:`Refusal` that says whether the answer is 401 (no valid credential for this
contract) or 403 (a valid one that may not do this).

- :data:`PUBLIC`: anyone (``GET /``, ``GET /__api__``);
- :data:`READ`: the GET routes of a contract; anyone while ``backfeed.public_reads`` is
  true, otherwise a token of the contract, of any role;
- :data:`WRITE`: contributing and voting; an ``admin`` or ``user`` token of the contract
  (a user token only as its own user: :func:`acts_as`);
- :data:`ADMIN`: creating users, with balances, a referrer and a login, changing the
  contract's parameters; ``admin`` only;
- :data:`SERVICE`: creating contracts (``PUT /{contract}``); a service-wide ``admin`` token
  only (``backfeed token create --service``, or the development token);
- :data:`LOGOUT`: revoking the token presented; an ``admin`` or ``user`` token stored in
  the database (the development token cannot be revoked);
- :data:`SESSIONS`: listing and revoking the login tokens of one's own user; a ``user``
  token only (an admin or read token has no user).

A token that is presented but unknown, revoked, expired, malformed or of another contract
is a 401 wherever a permission is checked, even on a public read, so a client learns that
its token is no good rather than being served as anonymous.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyramid.config import Configurator
from pyramid.interfaces import ISecurityPolicy
from pyramid.security import Allowed, Denied
from zope.interface import implementer

from protocol import ConfigurationError

from ..models import dialect_of
from ..settings import DEV_ADMIN_TOKEN, PUBLIC_READS, login_limits
from .credentials import ADMIN, TOKEN_TEXT, USER, Identity, find_identity, same_secret

if TYPE_CHECKING:
    from ..domain.catalog import ServedContract

log = logging.getLogger(__name__)

PUBLIC, READ, WRITE, ADMIN_ONLY, LOGOUT = "public", "read", "write", "admin", "logout"
SESSIONS, SERVICE = "sessions", "service"
CHALLENGE = 'Bearer realm="backfeed"'


class Refusal(Denied):
    """A denied permission with the status to answer: 401 with a ``WWW-Authenticate``
    challenge, or 403."""

    status: int
    description: str
    challenge: str | None

    def __new__(cls, status: int, description: str, challenge: str | None = None) -> Refusal:
        refusal = super().__new__(cls, description)
        refusal.status = status
        refusal.description = description
        refusal.challenge = challenge
        return refusal


def unauthorized(description: str, *, invalid_token: bool = False) -> Refusal:
    """A 401 with the RFC 6750 challenge (``error="invalid_token"`` for a bad token)."""
    challenge = CHALLENGE
    if invalid_token:
        challenge += ', error="invalid_token"'
    return Refusal(401, description, challenge)


def forbidden(description: str) -> Refusal:
    """A 403: the token is valid here but may not do this."""
    return Refusal(403, description)


@dataclass(frozen=True)
class Credential:
    """What the request's ``Authorization`` header amounts to."""

    presented: bool
    identity: Identity | None

    @property
    def refused(self) -> bool:
        """A token was presented but is not (or no longer) valid."""
        return self.presented and self.identity is None


def read_credential(request) -> Credential:
    """Parse the ``Authorization`` header and look its token up (once per request).

    On PostgreSQL the lookup is the first statement of the request's own transaction, on the
    connection the request uses anyway. On SQLite it runs in a short session of its own: there
    a transaction that has read may not write once another writer has committed, so the
    request's transaction must start with its write lock, as the write views do.
    """
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return Credential(presented=False, identity=None)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN_TEXT.fullmatch(token):
        return Credential(presented=True, identity=None)
    development = request.registry["dev_admin_token"]
    if development is not None and same_secret(token, development):
        return Credential(presented=True, identity=Identity(role=ADMIN, contract_id=None))
    if dialect_of(request.registry["db_engine"]).writes_after_reads:
        identity = find_identity(request.dbsession, token, request.now)
        return Credential(presented=True, identity=identity)
    with request.registry["dbsession_factory"]() as session:
        identity = find_identity(session, token, request.now)
    return Credential(presented=True, identity=identity)


CREATES_CONTRACT = ("contract", "PUT")
"""The route and method of the one request whose contract may not exist yet."""


class Resource:
    """The context of a request: the contract named in its URL, or None (``/``, ``/__api__``,
    unknown routes, a contract to create). An unknown contract name is a 404 before any
    permission is checked, except where it is being created."""

    def __init__(self, request) -> None:
        matched = request.matchdict or {}
        self.contract: ServedContract | None = None
        if "contract" not in matched:
            return
        route = request.matched_route.name if request.matched_route else None
        if (route, request.method) == CREATES_CONTRACT:
            self.contract = request.registry["contracts"].find_outside(request)
        else:
            self.contract = request.contract


@implementer(ISecurityPolicy)
class BearerTokenPolicy:
    """The service's security policy: bearer tokens, checked against the URL's contract."""

    def __init__(self, reads_are_public: bool) -> None:
        self.reads_are_public = reads_are_public

    def identity(self, request) -> Identity | None:
        """The identity of the request's token, whatever contract it belongs to."""
        return request.credential.identity

    def authenticated_userid(self, request) -> str | None:
        """``token:<id>`` for a stored token, ``settings`` for the development token."""
        identity = self.identity(request)
        if identity is None:
            return None
        return "settings" if identity.token_id is None else f"token:{identity.token_id}"

    def permits(self, request, context, permission: str) -> Allowed | Refusal:
        """Whether the request's credential grants ``permission`` in the context's contract."""
        credential: Credential = request.credential
        identity = credential.identity
        contract = getattr(context, "contract", None)
        if credential.refused:
            return unauthorized("the bearer token is not valid", invalid_token=True)
        if identity is not None and contract is not None and not identity.covers(contract.row_id):
            return unauthorized(
                "the bearer token is not valid for this contract", invalid_token=True
            )
        if permission == PUBLIC or (permission == READ and self.reads_are_public):
            return Allowed("public")
        if identity is None:
            return unauthorized("this needs an Authorization: Bearer token")
        if permission == READ:
            return Allowed("a token of this contract")
        if permission == ADMIN_ONLY:
            if identity.role == ADMIN:
                return Allowed("admin")
            return forbidden("only an admin token may do this")
        if permission == SERVICE:
            if identity.role == ADMIN and identity.contract_id is None:
                return Allowed("service admin")
            return forbidden("only a service-wide admin token may do this")
        if permission == SESSIONS:
            if identity.role != USER:
                return forbidden("only a user token has login tokens of its user")
            return Allowed(identity.role)
        if permission in (WRITE, LOGOUT):
            if identity.role not in (ADMIN, USER):
                return forbidden(f"a {identity.role} token may only read")
            if permission == LOGOUT and identity.token_id is None:
                return forbidden("the development token of the settings cannot be revoked")
            return Allowed(identity.role)
        return forbidden("no token may do this")

    def remember(self, request, userid, **kw) -> list:
        """Nothing to remember: the client sends its token with every request."""
        return []

    def forget(self, request, **kw) -> list:
        """Nothing to forget: a token is revoked with ``DELETE /{contract}/auth``."""
        return []


def _acting_user(request) -> Identity | None:
    """The identity of a ``user`` token on a request whose body validated, else None: only
    such a request has a user to keep to its own."""
    identity: Identity | None = request.identity
    if request.errors or identity is None or identity.role != USER:
        return None
    return identity


def _refuse_another_user(request, identity: Identity, name: str) -> None:
    request.errors.add(
        "body",
        name,
        f"a user token may only act as its own user, {identity.user_id}",
        code="forbidden",
    )
    request.errors.status = 403


def acts_as(field: str) -> Callable:
    """A Cornice validator: a ``user`` token may only name its own user in ``field``.

    It runs after the schema validator, on the validated body; an admin token may name any
    user of the contract. The refusal is a 403 in the error shape, blaming the field.
    """

    def validator(request, **kwargs) -> None:
        identity = _acting_user(request)
        if identity is not None and request.validated["body"].get(field) != identity.user_id:
            _refuse_another_user(request, identity, field)

    validator.__name__ = f"acts_as_{field}"
    return validator


def each_acts_as(items: str, field: str) -> Callable:
    """A Cornice validator: as :func:`acts_as`, for every item of the body's list ``items``;
    a user token naming another user in any item is refused whole, a 403 naming the item."""

    def validator(request, **kwargs) -> None:
        identity = _acting_user(request)
        if identity is None:
            return
        for index, item in enumerate(request.validated["body"][items]):
            if item.get(field) != identity.user_id:
                _refuse_another_user(request, identity, f"{items}.{index}.{field}")
                return

    validator.__name__ = f"each_acts_as_{field}"
    return validator


def includeme(config: Configurator) -> None:
    """Install the policy, the contract context, ``request.credential``, the login limits
    and, as a safe default for a view that forgets to declare one, the permission
    :data:`ADMIN_ONLY`."""
    settings = config.get_settings()
    token = DEV_ADMIN_TOKEN.read(settings) or None
    if token is not None and not TOKEN_TEXT.fullmatch(token):
        raise ConfigurationError(
            "backfeed.dev_admin_token may only hold letters, digits and - . _ ~ + / ="
        )
    config.registry["dev_admin_token"] = token
    config.registry["login_limits"] = login_limits(settings)
    if token is not None:
        log.warning("backfeed.dev_admin_token is set: that token is admin of every contract")
    config.add_request_method(read_credential, "credential", reify=True)
    config.set_root_factory(Resource)
    config.set_security_policy(BearerTokenPolicy(PUBLIC_READS.read(settings)))
    config.set_default_permission(ADMIN_ONLY)
