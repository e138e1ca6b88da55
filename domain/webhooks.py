"""Webhooks, as Intercom 1.x's subscriptions: an app's team names a URL and the topics it wants
(`user.created`, `conversation.user.replied`, ...); each event of those topics is then POSTed
there as a signed `notification_event` (workers/webhooks.py).

An app's subscriptions live in one aggregate (as its tags do): listing them reads one stream.
Ids are random, never reused. A subscription whose receiver kept failing for a day is paused,
with the reason; deleting one stops its deliveries at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.identity import NAMESPACE

TOPICS = (
    "user.created",
    "user.deleted",
    "user.unsubscribed",
    "user.tag.created",
    "user.tag.deleted",
    "conversation.user.created",
    "conversation.user.replied",
    "conversation.admin.replied",
    "conversation.admin.assigned",
    "conversation.admin.noted",
    "conversation.admin.closed",
    "conversation.admin.opened",
    "company.created",
    "event.created",
)
PING = "ping"  # sent once, when a subscription is created


def webhooks_key(app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/webhooks")


class Webhooks(Aggregate):
    @staticmethod
    def create_id(app_id: str) -> UUID:
        return webhooks_key(app_id)

    @event("Started")
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.subscriptions: dict[str, dict[str, Any]] = {}

    def subscribe(self, url: str, topics: list[str], hub_secret: str | None, at: datetime) -> str:
        subscription_id = uuid4().hex
        self._subscribed(self.app_id, subscription_id, url, topics, hub_secret, at)
        return subscription_id

    @event("Subscribed")
    def _subscribed(
        self,
        app_id: str,
        subscription_id: str,
        url: str,
        topics: list[str],
        hub_secret: str | None,
        at: datetime,
    ) -> None:
        self.subscriptions[subscription_id] = {
            "id": subscription_id,
            "url": url,
            "topics": list(topics),
            "hub_secret": hub_secret,
            "created_at": int(at.timestamp()),
            "active": True,
            "paused_reason": None,
        }

    @event("Paused")
    def pause(self, subscription_id: str, reason: str, at: datetime) -> None:
        """Its receiver kept failing: nothing more goes until it is resumed."""
        found = self.subscriptions[subscription_id]
        found["active"] = False
        found["paused_reason"] = reason

    @event("Resumed")
    def resume(self, subscription_id: str, at: datetime) -> None:
        found = self.subscriptions[subscription_id]
        found["active"] = True
        found["paused_reason"] = None

    @event("Unsubscribed")
    def unsubscribe(self, subscription_id: str, at: datetime) -> None:
        del self.subscriptions[subscription_id]
