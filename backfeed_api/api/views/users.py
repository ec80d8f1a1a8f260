"""``/{contract}/users``: create, list, read, and a user's ledger."""

from __future__ import annotations

from cornice import Service

from protocol import MAX_BALANCE

from ...auth.policy import ADMIN_ONLY, READ
from ...domain import users as domain
from ...domain.history import user_history
from ...domain.listing import list_users
from ...errors import not_found
from ..outbox import ActionEvents
from ..paging import id_window, page
from ..presenters import Presenter, ledger_entries, preview
from ..responses import answer, refusal
from ..schemas import CreateUser, ListPage, ListUsers, ReadOne
from ..validation import validate
from .common import JSON_AND_FORM, body, created, is_dry_run, path_id, query

users = Service(name="users", path="/{contract}/users", description="The users of a contract.")
user = Service(name="user", path="/{contract}/users/{id}", description="One user.")
history = Service(
    name="user_history",
    path="/{contract}/users/{id}/history",
    description="A user's ledger: every change of its balances, newest first, with its cause.",
)


@users.post(
    schema=CreateUser(),
    validators=(validate,),
    content_type=JSON_AND_FORM,
    permission=ADMIN_ONLY,
    response_schemas={
        "201": answer("The created user.", "User", ("Location",)),
        "200": answer(
            "A dry run: the would-be user and its opening entry; nothing written.", "UserPreview"
        ),
        "409": refusal(
            f"Or the new user would carry the contract's totals above {MAX_BALANCE:g}."
        ),
    },
)
def create_user(request) -> dict:
    """Create a user; balances default to the contract's initial values. Admin only.

    A ``username`` and ``password`` let the user log in (``POST /{contract}/auth``) for a
    token of its own; neither is ever shown again. With ``dry_run=true``: 200 with the
    would-be user and its opening entry; nothing is written.
    """
    data = body(request)
    if is_dry_run(request):
        planned, total = domain.preview_user(
            request.dbsession,
            request.contract,
            request.now,
            reputation=data.get("reputation"),
            tokens=data.get("tokens"),
            referrer_id=data.get("referrer_id"),
            username=data.get("username"),
        )
        presenter = Presenter(request.dbsession, request.contract, request.now, total)
        return preview(presenter.user(planned.subject), planned.entries)
    new, changes = domain.create_user(
        request.dbsession,
        request.contract,
        request.now,
        reputation=data.get("reputation"),
        tokens=data.get("tokens"),
        referrer_id=data.get("referrer_id"),
        username=data.get("username"),
        password=data.get("password"),
    )
    rendered = ActionEvents(request.dbsession, request.contract).user(request.now, new, changes)
    return created(request, "user", rendered, id=new.id)


@users.get(
    schema=ListUsers(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("A page of users.", "UserPage", ("Link",))},
)
def get_users(request) -> dict:
    """List users, by creation time or as a leaderboard."""
    q = query(request)
    found = list_users(
        request.dbsession,
        request.contract,
        q["order_by"],
        q["start"],
        q["limit"],
        id_window(q),
    )
    items = Presenter(request.dbsession, request.contract, request.now).users(found.items)
    return page(request, items, found.total, q)


@user.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=READ,
    response_schemas={"200": answer("The user.", "User")},
)
def get_user(request) -> dict:
    """One user of this contract."""
    found = domain.find_user(request.dbsession, request.contract, path_id(request))
    if found is None:
        raise not_found("user")
    return Presenter(request.dbsession, request.contract, request.now).user(found)


@history.get(
    schema=ListPage(),
    validators=(validate,),
    permission=READ,
    response_schemas={
        "200": answer("A page of the user's ledger, newest first.", "LedgerPage", ("Link",))
    },
)
def get_history(request) -> dict:
    """The user's ledger entries, newest first, its shares of collective losses included."""
    found = domain.find_user(request.dbsession, request.contract, path_id(request))
    if found is None:
        raise not_found("user")
    q = query(request)
    entries = user_history(
        request.dbsession,
        request.contract.row_id,
        found.id,
        start=q["start"],
        limit=q["limit"],
        window=id_window(q),
    )
    items = ledger_entries(request.dbsession, request.contract.row_id, entries.items)
    return page(request, items, entries.total, q)
