"""``/{contract}/auth``: a user logs in with its username and password for a bearer token,
and logs out by revoking it; ``/{contract}/auth/tokens``: the user's login tokens, listed
and revoked."""

from __future__ import annotations

from cornice import Service
from pyramid.httpexceptions import HTTPTooManyRequests
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from ...auth.credentials import USER, revoke_token
from ...auth.policy import CHALLENGE, LOGOUT, SESSIONS
from ...domain.login_tokens import close_session, list_sessions, open_session
from ...domain.logins import log_in
from ...errors import error_body, not_found
from ..presenters import collection, iso
from ..responses import answer
from ..schemas import ListPage, LogIn, ReadOne
from ..validation import validate
from .common import JSON_AND_FORM, body, path_id, query

auth = Service(
    name="auth",
    path="/{contract}/auth",
    description="Logging in with a username and password for a user token, and logging out.",
)
login_tokens = Service(
    name="login_tokens",
    path="/{contract}/auth/tokens",
    description="The live login tokens of the calling user token's user.",
)
login_token = Service(
    name="login_token",
    path="/{contract}/auth/tokens/{id}",
    description="One live login token of the calling user token's user.",
)

WRONG_CREDENTIALS = "wrong username or password"


@auth.post(
    schema=LogIn(),
    validators=(validate,),
    content_type=JSON_AND_FORM,
    permission=NO_PERMISSION_REQUIRED,
    response_schemas={
        "201": answer("A new user token, shown this once.", "Login"),
        "401": answer("Wrong username or password.", "Error"),
        "429": answer(
            "Too many logins from this address, or too many failed logins for this username "
            "or from this address; wait `Retry-After` seconds.",
            "Error",
            ("Retry-After",),
        ),
    },
)
def create_session(request) -> dict:
    """Log in: a new ``user`` token for the user with this username and password.

    The answer, 201, is ``{"token", "token_id", "user_id", "role": "user", "contract",
    "expires_at"}``; the token is shown this once (``Cache-Control: no-store``) and acts as
    that user until ``expires_at`` (``backfeed.login_token_days`` after the login) or until
    it is revoked. A user keeps at most ``backfeed.login_max_tokens`` live login tokens: a
    login past that revokes the oldest. Any ``Authorization`` header is ignored here.
    A wrong username and a wrong password get the same 401; after repeated failures for one
    username from one address, for one username from anywhere, or from one address for any
    username, attempts are answered 429 with ``Retry-After``.
    """
    data = body(request)
    outcome = log_in(
        request.dbsession,
        request.contract,
        request.now,
        data["username"],
        data["password"],
        request.client_address,
        request.registry["login_limits"],
    )
    if outcome.retry_after is not None:
        raise HTTPTooManyRequests(
            "too many failed logins; try again later",
            headers={"Retry-After": str(outcome.retry_after)},
        )
    if outcome.user_id is None:
        request.keep_writes = True  # the refusal is counted although the answer is a 401
        request.response.status_code = 401
        request.response.headers["WWW-Authenticate"] = CHALLENGE
        return error_body("wrong_credentials", "body", "", WRONG_CREDENTIALS)
    row, token = open_session(
        request.dbsession,
        request.contract.row_id,
        outcome.user_id,
        request.now,
        request.registry["login_limits"],
    )
    request.response.status_code = 201
    request.response.cache_control.no_store = True
    request.response.headers["Pragma"] = "no-cache"
    return {
        "token": token,
        "token_id": row.id,
        "user_id": outcome.user_id,
        "role": USER,
        "contract": request.contract.name,
        "expires_at": iso(row.expires_at),
    }


@auth.delete(
    schema=ReadOne(),
    validators=(validate,),
    permission=LOGOUT,
    response_schemas={"204": answer("Logged out: the token is revoked.")},
)
def delete_session(request) -> Response:
    """Log out: revoke the bearer token of this request (204). Later requests with it get
    401. An ``admin`` or ``user`` token of this contract may revoke itself this way."""
    revoke_token(request.dbsession, request.identity.token_id, request.now)
    return no_content()


def no_content() -> Response:
    """An empty 204."""
    response = Response(status=204)
    response.content_type = None
    return response


@login_tokens.get(
    schema=ListPage(),
    validators=(validate,),
    permission=SESSIONS,
    response_schemas={
        "200": answer("A page of the user's live login tokens, oldest first.", "LoginTokenPage")
    },
)
def get_login_tokens(request) -> dict:
    """The login tokens of the calling token's user that are neither revoked nor expired,
    oldest first: ``{"id", "created_at", "expires_at", "current"}`` each, ``current`` true
    for the token of this request. Never the tokens themselves. A ``user`` token only."""
    identity = request.identity
    q = query(request)
    page = list_sessions(
        request.dbsession,
        request.contract.row_id,
        identity.user_id,
        request.now,
        q["start"],
        q["limit"],
    )
    items = [
        {
            "id": row.id,
            "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at),
            "current": row.id == identity.token_id,
        }
        for row in page.items
    ]
    return collection(items, page.total, q["limit"], q["start"])


@login_token.delete(
    schema=ReadOne(),
    validators=(validate,),
    permission=SESSIONS,
    response_schemas={"204": answer("The login token is revoked.")},
)
def delete_login_token(request) -> Response:
    """Revoke one of the calling token's user's live login tokens (204), this request's own
    included: logging out elsewhere. Any other id, another user's token among them, is a
    404. A ``user`` token only."""
    identity = request.identity
    token_id = path_id(request)
    if not close_session(
        request.dbsession, request.contract.row_id, identity.user_id, token_id, request.now
    ):
        raise not_found("login token of this user")
    return no_content()
