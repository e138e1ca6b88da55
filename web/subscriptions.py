"""Webhook subscriptions over REST, as Intercom 1.x had them: `POST /subscriptions` with
`{service_type: "web", url, topics, hub_secret}`, `GET` one or all, `DELETE`; and what went to
one of them, `GET /subscriptions/{id}/deliveries`. Routes join the `api` blueprint; web/app.py
imports this module before registering it. Sending is workers/webhooks.py's.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
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
from web.api import api, body, services
from workers.webhooks import delivery_page


class SubscriptionIn(Schema):
    service_type = fields.String(load_default="web", validate=validate.Equal("web"))
    url = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    topics = fields.List(
        fields.String(validate=validate.Length(max=64)),
        required=True,
        validate=validate.Length(min=1, max=20),
    )
    hub_secret = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=255)
    )


class DeliveryArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


SUBSCRIPTION_IN, DELIVERY_ARGS = SubscriptionIn(), DeliveryArgs()


def subscription_out(found: dict[str, Any]) -> dict[str, Any]:
    """Intercom's `notification_subscription`; the hub secret never leaves Parley."""
    return {
        "type": "notification_subscription",
        "id": found["id"],
        "app_id": g.app_id,
        "service_type": "web",
        "url": found["url"],
        "self": url_for("api.get_subscription", subscription_id=found["id"], _external=True),
        "topics": found["topics"],
        "active": found["active"],
        "paused_reason": found["paused_reason"],
        "signed": bool(found["hub_secret"]),
        "created_at": found["created_at"],
    }


@api.post("/subscriptions")
def post_subscription() -> ResponseReturnValue:
    loaded = SUBSCRIPTION_IN.load(body())
    s = services()
    cmd = Subscribe(
        g.app_id,
        loaded["url"],
        loaded["topics"],
        loaded["hub_secret"],
        s.config.webhook_allow_private,
    )
    made = handle(subscribe, cmd, s.store, s.clock)
    return jsonify(subscription_out(made.subscription))


@api.get("/subscriptions")
def get_subscriptions() -> ResponseReturnValue:
    hooks = app_webhooks(services().store, g.app_id)
    listed = sorted(hooks.subscriptions.values(), key=lambda f: (f["created_at"], f["id"]))
    return jsonify(
        {
            "type": "notification_subscription.list",
            "items": [subscription_out(f) for f in listed],
            "subscriptions": [subscription_out(f) for f in listed],  # python-intercom reads it
        }
    )


@api.get("/subscriptions/<subscription_id>")
def get_subscription(subscription_id: str) -> ResponseReturnValue:
    return jsonify(subscription_out(live_subscription(services().store, g.app_id, subscription_id)))


@api.delete("/subscriptions/<subscription_id>")
def delete_subscription(subscription_id: str) -> ResponseReturnValue:
    s = services()
    found = live_subscription(s.store, g.app_id, subscription_id)
    handle(
        change_subscription,
        ChangeSubscription(g.app_id, subscription_id, "unsubscribe"),
        s.store,
        s.clock,
    )
    return jsonify(subscription_out(found))


@api.post("/subscriptions/<subscription_id>/resume")
def resume_subscription(subscription_id: str) -> ResponseReturnValue:
    """A paused subscription sends again, starting with what waited."""
    s = services()
    handle(
        change_subscription,
        ChangeSubscription(g.app_id, subscription_id, "resume"),
        s.store,
        s.clock,
    )
    return jsonify(subscription_out(live_subscription(s.store, g.app_id, subscription_id)))


@api.get("/subscriptions/<subscription_id>/deliveries")
def get_subscription_deliveries(subscription_id: str) -> ResponseReturnValue:
    """What went to the subscription and what did not, newest first."""
    live_subscription(services().store, g.app_id, subscription_id)
    args = DELIVERY_ARGS.load(request.args)
    with services().engine.connect() as conn:
        rows, total = delivery_page(conn, subscription_id, args["per_page"], args["page"])
    has_next = args["page"] * args["per_page"] < total
    return jsonify(
        {
            "type": "notification_delivery.list",
            "deliveries": [
                {
                    "type": "notification_delivery",
                    "id": r["id"],
                    "topic": r["topic"],
                    "created_at": r["created_at"],
                    "state": r["state"],
                    "delivery_attempts": r["attempts"],
                    "first_sent_at": r["first_sent_at"],
                    "last_attempt_at": r["last_attempt_at"],
                    "next_attempt_at": r["next_attempt_at"] if r["state"] == "pending" else None,
                    "delivered_at": r["delivered_at"],
                    "last_status": r["last_status"],
                    "last_error": r["last_error"],
                }
                for r in rows
            ],
            "total_count": total,
            "pages": {
                "type": "pages",
                "page": args["page"],
                "per_page": args["per_page"],
                "next": url_for(
                    "api.get_subscription_deliveries",
                    subscription_id=subscription_id,
                    page=args["page"] + 1,
                    per_page=args["per_page"],
                    _external=True,
                )
                if has_next
                else None,
            },
        }
    )
