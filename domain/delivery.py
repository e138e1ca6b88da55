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
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.identity import NAMESPACE

CLAIMED, SENDING, SENT = "claimed", "sending", "sent"
DEFERRED, UNCERTAIN = "deferred", "uncertain"


def delivery_key(message_id: str, user_key: str, channel: str) -> UUID:
    return uuid5(NAMESPACE, f"delivery/{message_id}/{user_key}/{channel}")


class Delivery(Aggregate):
    @staticmethod
    def create_id(message_id: str, user_key: str, channel: str) -> UUID:
        return delivery_key(message_id, user_key, channel)

    @event("Claimed")
    def __init__(self, message_id: str, user_key: str, channel: str, content_version: int) -> None:
        self.message_id = message_id
        self.user_key = user_key
        self.channel = channel
        self.content_version = content_version  # which version of the message it carries
        self.state = CLAIMED
        self.attempts = 0
        self.last_error: str | None = None

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
