"""``/{contract}/auth``: a user logs in with its username and password for a bearer token,
and logs out by revoking it."""

from __future__ import annotations

from cornice import Service
from pyramid.httpexceptions import HTTPTooManyRequests
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from ..domain.credentials import USER, issue_token, revoke_token
from ..domain.logins import log_in
from ..schemas import LogIn, ReadOne
from ..security import CHALLENGE, LOGOUT
from ..validation import validate
from .common import JSON_AND_FORM, body
from .errors import error_body

auth = Service(
    name="auth",
    path="/{contract}/auth",
    description="Logging in with a username and password for a user token, and logging out.",
)

WRONG_CREDENTIALS = "wrong username or password"


@auth.post(
    schema=LogIn(),
    validators=(validate,),
    content_type=JSON_AND_FORM,
    permission=NO_PERMISSION_REQUIRED,
)
def create_session(request) -> dict:
    """Log in: a new ``user`` token for the user with this username and password.

    The answer, 201, is ``{"token", "token_id", "user_id", "role": "user", "contract"}``;
    the token is shown this once (``Cache-Control: no-store``) and acts as that user until
    ``DELETE /{contract}/auth`` revokes it. Any ``Authorization`` header is ignored here.
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
        return error_body("body", "", WRONG_CREDENTIALS)
    row, token = issue_token(
        request.dbsession,
        request.contract.row_id,
        USER,
        request.now,
        user_id=outcome.user_id,
        origin="login",
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
    }


@auth.delete(schema=ReadOne(), validators=(validate,), permission=LOGOUT)
def delete_session(request) -> Response:
    """Log out: revoke the bearer token of this request (204). Later requests with it get
    401. An ``admin`` or ``user`` token of this contract may revoke itself this way."""
    revoke_token(request.dbsession, request.identity.token_id, request.now)
    response = Response(status=204)
    response.content_type = None
    return response
