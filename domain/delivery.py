"""One message to one user on one channel, sent at most once.

The aggregate's id comes from (message, user, channel), so only one worker can create it: a
second claim collides with the first and stops there. Before talking to the mail server the
delivery records that it is sending; a worker that finds a delivery still "sending" (its
predecessor died mid-send, the mail may or may not have gone) gives up rather than risk a
second copy. A refusal that certainly sent nothing (server down, temporary error) is recorded
and may be tried again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.identity import NAMESPACE

CLAIMED, SENDING, SENT = "claimed", "sending", "sent"
DEFERRED, UNCERTAIN, SKIPPED = "deferred", "uncertain", "skipped"


def delivery_key(message_id: str, user_key: str, channel: str) -> UUID:
    return uuid5(NAMESPACE, f"delivery/{message_id}/{user_key}/{channel}")


class Delivery(Aggregate):
    @staticmethod
    def create_id(message_id: str, user_key: str, channel: str) -> UUID:
        return delivery_key(message_id, user_key, channel)

    class Claimed(Aggregate.Created):
        """Version 2 records when (version 1, the first prototype, did not: None); version 3
        whether the claim waits for the reactions to queue its send (`queued`: a message's
        fan-out or the sweep claims it) or was made by the sender itself (as all were before)."""

        class_version = 3
        message_id: str
        user_key: str
        channel: str
        content_version: int
        at: datetime | None
        queued: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["at"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["queued"] = False

    @event(Claimed)
    def __init__(
        self,
        message_id: str,
        user_key: str,
        channel: str,
        content_version: int,
        at: datetime | None,
        queued: bool = False,
    ) -> None:
        self.message_id = message_id
        self.user_key = user_key
        self.channel = channel
        self.content_version = content_version  # which version of the message it carries
        self.state = CLAIMED
        self.attempts = 0
        self.last_error: str | None = None
        self.opened = False
        self.clicked = False
        self.unsubscribed = False

    @property
    def may_send(self) -> bool:
        return self.state in (CLAIMED, DEFERRED)

    @event("Sending")
    def sending(self, at: datetime) -> None:
        self.state = SENDING
        self.attempts += 1

    def sent(self, at: datetime) -> None:
        """The server accepted it (also after another worker judged the send uncertain)."""
        self._sent(self.message_id, at)

    @event("Sent")
    def _sent(self, message_id: str, at: datetime) -> None:
        self.state = SENT

    @event("Deferred")
    def deferred(self, error: str, at: datetime) -> None:
        """The server refused and certainly sent nothing: this may be tried again."""
        self.state = DEFERRED
        self.last_error = error

    @event("Uncertain")
    def uncertain(self, at: datetime) -> None:
        """A send was interrupted with no answer: never sent again, shown as such."""
        self.state = UNCERTAIN

    def skip(self, reason: str, at: datetime) -> None:
        """Claimed for a user who can no longer get it (deleted, unsubscribed from bulk email,
        no address): nothing is sent, and nobody tries again."""
        if self.may_send:
            self._skipped(reason, at)

    @event("Skipped")
    def _skipped(self, reason: str, at: datetime) -> None:
        self.state = SKIPPED
        self.last_error = reason

    # -- what the user did with it (emails: opened, clicked through, unsubscribed) ---------

    def open(self, at: datetime) -> None:
        """The email's image was fetched; the first time counts toward the stats."""
        if not self.opened:
            self._opened(self.message_id, at)

    @event("Opened")
    def _opened(self, message_id: str, at: datetime) -> None:
        self.opened = True

    def click(self, url: str, at: datetime) -> None:
        """A link was followed: every click is recorded, the first counts toward the stats;
        a click also shows the email was opened (images are often blocked)."""
        self.open(at)
        self._clicked(self.message_id, url, not self.clicked, at)

    @event("Clicked")
    def _clicked(self, message_id: str, url: str, first: bool, at: datetime) -> None:
        self.clicked = True

    def unsubscribe(self, at: datetime) -> None:
        """The user unsubscribed through this email's link."""
        if not self.unsubscribed:
            self._unsubscribed(self.message_id, at)

    @event("Unsubscribed")
    def _unsubscribed(self, message_id: str, at: datetime) -> None:
        self.unsubscribed = True
