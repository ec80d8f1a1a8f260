"""``/{contract}/webhooks``: subscriptions that receive the contract's events (admin only)."""

from __future__ import annotations

from cornice import Service
from pyramid.response import Response

from ...auth.policy import ADMIN_ONLY
from ...domain import webhooks as domain
from ...domain.webhooks import WebhookOptions
from ...errors import not_found
from ..presenters import collection, delivery, webhook
from ..responses import answer
from ..schemas import ChangeWebhook, CreateWebhook, ListPage, ReadOne
from ..validation import validate
from .common import body, created, no_content, path_id, query

webhooks = Service(
    name="webhooks",
    path="/{contract}/webhooks",
    description="Where the contract's events are delivered, signed.",
)
one_webhook = Service(name="webhook", path="/{contract}/webhooks/{id}", description="One webhook.")
deliveries = Service(
    name="webhook_deliveries",
    path="/{contract}/webhooks/{id}/deliveries",
    description="A webhook's delivery attempts, newest first.",
)


def _options(request) -> WebhookOptions:
    settings = request.registry["event_settings"]
    return WebhookOptions(settings.allow_private_targets, settings.signing_key)


def _found(request):
    found = domain.find_webhook(request.dbsession, request.contract, path_id(request))
    if found is None:
        raise not_found("webhook")
    return found


@webhooks.post(
    schema=CreateWebhook(),
    validators=(validate,),
    content_type="application/json",
    permission=ADMIN_ONLY,
    response_schemas={
        "201": answer(
            "The new webhook and its signing secret, shown this once.",
            "NewWebhook",
            ("Location",),
        )
    },
)
def create_webhook(request) -> dict:
    """Subscribe a URL to the events committed from now on. The answer holds the signing
    ``secret``, shown this once. Admin only."""
    data = body(request)
    new, secret = domain.create_webhook(
        request.dbsession,
        request.contract,
        request.now,
        _options(request),
        url=data["url"],
        types=data["types"],
        description=data.get("description", ""),
    )
    return created(request, "webhook", {**webhook(new), "secret": secret}, id=new.id)


@webhooks.get(
    schema=ListPage(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("A page of webhooks, oldest first.", "WebhookPage")},
)
def get_webhooks(request) -> dict:
    """The contract's webhooks, oldest first. Admin only."""
    q = query(request)
    page = domain.list_webhooks(request.dbsession, request.contract, q["start"], q["limit"])
    return collection([webhook(row) for row in page.items], page.total, q["limit"], q["start"])


@one_webhook.get(
    schema=ReadOne(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("The webhook, without its secret.", "Webhook")},
)
def get_webhook(request) -> dict:
    """One webhook, without its secret. Admin only."""
    return webhook(_found(request))


@one_webhook.patch(
    schema=ChangeWebhook(),
    validators=(validate,),
    content_type="application/json",
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("The changed webhook.", "Webhook")},
)
def change_webhook(request) -> dict:
    """Change a webhook; ``{"enabled": true}`` resumes one that stopped as failing, from the
    event it stopped at. Admin only."""
    changed = domain.update_webhook(
        request.dbsession, _found(request), request.now, _options(request), body(request)
    )
    return webhook(changed)


@one_webhook.delete(
    schema=ReadOne(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={"204": answer("The webhook is removed.")},
)
def delete_webhook(request) -> Response:
    """Remove a webhook and the record of its deliveries. Admin only."""
    domain.delete_webhook(request.dbsession, _found(request))
    return no_content()


@deliveries.get(
    schema=ListPage(),
    validators=(validate,),
    permission=ADMIN_ONLY,
    response_schemas={"200": answer("A page of delivery attempts, newest first.", "DeliveryPage")},
)
def get_deliveries(request) -> dict:
    """The webhook's delivery attempts, newest first: the event, the time, the HTTP status
    or the error, how long it took. Admin only."""
    found = _found(request)
    q = query(request)
    page = domain.list_deliveries(request.dbsession, found, q["start"], q["limit"])
    return collection([delivery(row) for row in page.items], page.total, q["limit"], q["start"])
