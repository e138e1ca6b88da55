"""Webhook subscriptions over REST, as Intercom 1.x had them: `POST /subscriptions` with
`{service_type: "web", url, topics, hub_secret}`, `GET` one or all, `DELETE`; and what went to
one of them, `GET /subscriptions/{id}/deliveries`. Routes join the `api` blueprint; web/app.py
imports this module before registering it. Sending is workers/webhooks.py's.
"""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from marshmallow import Schema, fields, validate

from commands.handling import handle
from commands.webhooks import (
    ChangeSubscription,
    Subscribe,
    app_webhooks,
    change_subscription,
    live_subscription,
    subscribe,
)
from web.api import PageArgs, api, services
from web.openapi import answers, asked, given
from workers.webhooks import delivery_page


class SubscriptionIn(Schema):
    service_type = fields.String(load_default="web", validate=validate.Equal("web"))
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "an http(s) URL on the public internet"},
    )
    topics = fields.List(
        fields.String(validate=validate.Length(max=64)),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "e.g. user.created, conversation.user.created; `*` for all"},
    )
    hub_secret = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "signs each notification (`X-Hub-Signature`)"},
    )


SUBSCRIPTION_IN, DELIVERY_ARGS = SubscriptionIn(), PageArgs()


class SubscriptionSchema(Schema):
    """Intercom's `notification_subscription`; the hub secret never leaves Parley."""

    type = fields.Constant("notification_subscription", required=True)
    id = fields.String(required=True)
    app_id = fields.String(required=True)
    service_type = fields.Constant("web", required=True)
    url = fields.String(required=True)
    self = fields.String(required=True, metadata={"description": "this subscription's URL"})
    topics = fields.List(fields.String(), required=True)
    active = fields.Boolean(
        required=True, metadata={"description": "false: paused, its receiver kept failing"}
    )
    paused_reason = fields.String(required=True, allow_none=True)
    signed = fields.Boolean(required=True, metadata={"description": "it has a hub secret"})
    created_at = fields.Integer(required=True)


class SubscriptionListSchema(Schema):
    type = fields.Constant("notification_subscription.list", required=True)
    items = fields.List(fields.Nested(SubscriptionSchema), required=True)
    subscriptions = fields.List(
        fields.Nested(SubscriptionSchema),
        required=True,
        metadata={"description": "the same as `items` (python-intercom reads this)"},
    )


class NotificationDeliverySchema(Schema):
    type = fields.Constant("notification_delivery", required=True)
    id = fields.String(required=True, metadata={"description": "the notification's id"})
    topic = fields.String(required=True)
    created_at = fields.Integer(required=True)
    state = fields.String(required=True)
    delivery_attempts = fields.Integer(required=True, attribute="attempts")
    first_sent_at = fields.Integer(required=True, allow_none=True)
    last_attempt_at = fields.Integer(required=True, allow_none=True)
    next_attempt_at = fields.Integer(
        required=True, allow_none=True, metadata={"description": "while pending"}
    )
    delivered_at = fields.Integer(required=True, allow_none=True)
    last_status = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the receiver's HTTP status"}
    )
    last_error = fields.String(required=True, allow_none=True)


class DeliveryPagesSchema(Schema):
    type = fields.Constant("pages", required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    next = fields.String(
        required=True, allow_none=True, metadata={"description": "the next page; null on the last"}
    )


class NotificationDeliveryListSchema(Schema):
    type = fields.Constant("notification_delivery.list", required=True)
    deliveries = fields.List(fields.Nested(NotificationDeliverySchema), required=True)
    total_count = fields.Integer(required=True)
    pages = fields.Nested(DeliveryPagesSchema, required=True)


def subscription_out(found: dict[str, Any]) -> dict[str, Any]:
    """A subscription for SubscriptionSchema."""
    return {
        "id": found["id"],
        "app_id": g.app_id,
        "url": found["url"],
        "self": url_for("api.get_subscription", subscription_id=found["id"], _external=True),
        "topics": found["topics"],
        "active": found["active"],
        "paused_reason": found["paused_reason"],
        "signed": bool(found["hub_secret"]),
        "created_at": found["created_at"],
    }


@api.post("/subscriptions")
@answers(SubscriptionSchema, body=SUBSCRIPTION_IN)
def post_subscription() -> Any:
    """Subscribe a URL to topics (a webhook)

    Each event of the `topics` is POSTed to `url` as a `notification_event`, in the order
    they happened, signed with `hub_secret` when given. A URL that is not http(s), or that
    reaches the server's own or a private network, is refused."""
    loaded = given()
    s = services()
    cmd = Subscribe(
        g.app_id,
        loaded["url"],
        loaded["topics"],
        loaded["hub_secret"],
        s.config.webhook_allow_private,
    )
    made = handle(subscribe, cmd, s.store, s.clock)
    return subscription_out(made.subscription)


@api.get("/subscriptions")
@answers(SubscriptionListSchema)
def get_subscriptions() -> Any:
    """The app's webhook subscriptions, oldest first

    Each with its topics, whether it is active or paused (and why), and its URL."""
    hooks = app_webhooks(services().store, g.app_id)
    listed = sorted(hooks.subscriptions.values(), key=lambda f: (f["created_at"], f["id"]))
    shown = [subscription_out(f) for f in listed]
    return {"items": shown, "subscriptions": shown}


@api.get("/subscriptions/<subscription_id>")
@answers(SubscriptionSchema)
def get_subscription(subscription_id: str) -> Any:
    """One webhook subscription

    What went to it and what failed: `GET /subscriptions/{id}/deliveries`."""
    return subscription_out(live_subscription(services().store, g.app_id, subscription_id))


@api.delete("/subscriptions/<subscription_id>")
@answers(SubscriptionSchema)
def delete_subscription(subscription_id: str) -> Any:
    """Unsubscribe: nothing more is sent to it

    Answers the subscription as it was."""
    s = services()
    found = live_subscription(s.store, g.app_id, subscription_id)
    handle(
        change_subscription,
        ChangeSubscription(g.app_id, subscription_id, "unsubscribe"),
        s.store,
        s.clock,
    )
    return subscription_out(found)


@api.post("/subscriptions/<subscription_id>/resume")
@answers(SubscriptionSchema)
def resume_subscription(subscription_id: str) -> Any:
    """Resume a paused subscription

    A paused subscription sends again, starting with what waited."""
    s = services()
    handle(
        change_subscription,
        ChangeSubscription(g.app_id, subscription_id, "resume"),
        s.store,
        s.clock,
    )
    return subscription_out(live_subscription(s.store, g.app_id, subscription_id))


@api.get("/subscriptions/<subscription_id>/deliveries")
@answers(NotificationDeliveryListSchema, query=DELIVERY_ARGS)
def get_subscription_deliveries(subscription_id: str) -> Any:
    """What went to a subscription and what did not, newest first

    Each notification: pending (with when it is next tried), delivered, or given up on, with
    its attempts, the receiver's last status and error. A page at a time (`page`,
    `per_page`)."""
    live_subscription(services().store, g.app_id, subscription_id)
    args = asked()
    with services().engine.connect() as conn:
        rows, total = delivery_page(conn, subscription_id, args["per_page"], args["page"])
    has_next = args["page"] * args["per_page"] < total
    next_url = (
        url_for(
            "api.get_subscription_deliveries",
            subscription_id=subscription_id,
            page=args["page"] + 1,
            per_page=args["per_page"],
            _external=True,
        )
        if has_next
        else None
    )
    return {
        "deliveries": [
            {**r, "next_attempt_at": r["next_attempt_at"] if r["state"] == "pending" else None}
            for r in rows
        ],
        "total_count": total,
        "pages": {"page": args["page"], "per_page": args["per_page"], "next": next_url},
    }
