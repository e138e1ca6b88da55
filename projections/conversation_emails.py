"""Which inbound emails each conversation was written by, for its trail (queries/
conversation_trail.py).

An inbound email's aggregate id comes from its Message-ID and sender (domain/inbound.py),
which a conversation records only for the email that started it, and not at all when the email
had no Message-ID; a reply by email records neither. Without this index a trail would have to
read every inbound email of every app to find its conversation's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Column, Connection, String, Table

from domain.inbound import InboundEmail
from projections.events import event_class
from projections.tables import metadata
from projections.upsert import upsert

RECEIVED = event_class(InboundEmail, "Received")
# The aggregate lived in commands/inbound.py before: its older events carry that topic.
RECEIVED_TOPICS = (get_topic(RECEIVED), "commands.inbound:InboundEmail.Received")

conversation_emails = Table(
    "conversation_emails",
    metadata,
    Column("conversation_id", String(32), primary_key=True),
    Column("inbound_id", String(32), primary_key=True),  # the InboundEmail aggregate
    Column("app_id", String(64), nullable=False),
)


class ConversationEmailsProjection:
    name = "conversation_emails"
    tables: tuple[Table, ...] = (conversation_emails,)
    per_aggregate = True
    topics: tuple[str, ...] = RECEIVED_TOPICS

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        rows = [
            {
                "conversation_id": e.conversation_id,
                "inbound_id": e.originator_id.hex,
                "app_id": e.app_id,
            }
            for e in events
            if isinstance(e, RECEIVED)
        ]
        upsert(conn, tables["conversation_emails"], rows)
