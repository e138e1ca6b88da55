"""An email received into an app's inbox, recorded once (for auditors): who sent it, what it
was, and which conversation (and part) it became."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.identity import NAMESPACE


class InboundEmail(Aggregate):
    """One email received, once: what it was and where it went (for auditors)."""

    @staticmethod
    def create_id(app_id: str, email_id: str, sender: str) -> UUID:
        return inbound_key(app_id, email_id, sender)

    @event("Received")
    def __init__(
        self,
        app_id: str,
        email_id: str,
        sender: str,
        subject: str | None,
        size: int,
        conversation_id: str,
        part_id: str | None,
        author: dict[str, str] | None,
        at: int,
    ) -> None:
        self.app_id = app_id
        self.author = author  # None: the sender's user, who started the conversation
        self.email_id = email_id
        self.sender = sender
        self.subject = subject
        self.size = size
        self.conversation_id = conversation_id
        self.part_id = part_id
        self.at = at


def inbound_key(app_id: str, email_id: str, sender: str) -> UUID:
    """Keyed by sender too: someone else's email reusing a Message-ID is not a duplicate."""
    return uuid5(NAMESPACE, f"{app_id}/inbound/{sender} {email_id}")


def honours_token(who: str, sender: str, admin_id: str | None, user_email: str | None) -> bool:
    """Whether a reply token (`u` for the conversation's user, `aN` for teammate N) counts for
    an email from `sender`: only for whom it was given to. A user's token answers for the
    conversation's user writing from their address (never a teammate); a teammate's only
    for that teammate (`admin_id`: the teammate with the sender's address, if any)."""
    if who != "u":
        return admin_id is not None and admin_id == who[1:]
    return admin_id is None and user_email is not None and user_email.lower() == sender.lower()


# It lived in commands/inbound.py before: its stored events name it there.
register_topic("commands.inbound:InboundEmail", InboundEmail)
