"""Per-message counts for teammates: emails sent, opened and unsubscribed from; in-app
messages delivered, viewed and not shown (nothing to show the user); clicks and replies to
either. Each user counts once per message
for each."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, select

from domain.conversations import Conversation
from domain.delivery import Delivery
from domain.user import User
from projections.events import event_class
from projections.tables import message_stats
from projections.upsert import upsert

SENT = event_class(Delivery, "Sent")
SHOWN = event_class(User, "AutoMessageShown")
WAITING_SHOWN = event_class(User, "MessageShown")
VIEWED = event_class(User, "MessageViewed")
CLICKED_IN_APP = event_class(User, "MessageClicked")
OPENED = event_class(Delivery, "Opened")
CLICKED = event_class(Delivery, "Clicked")
UNSUBSCRIBED = event_class(Delivery, "Unsubscribed")
REPLIED = event_class(Conversation, "Replied")
NOT_SHOWN = event_class(User, "MessageNotShown")
COLUMNS = {
    SENT: "sent",
    SHOWN: "delivered",
    WAITING_SHOWN: "delivered",
    VIEWED: "viewed",
    OPENED: "opened",
    CLICKED: "clicked",
    CLICKED_IN_APP: "clicked",
    UNSUBSCRIBED: "unsubscribed",
    REPLIED: "replied",
    NOT_SHOWN: "not_shown",
}
EMPTY = {
    **{"sent": 0, "delivered": 0, "viewed": 0},
    **{"opened": 0, "clicked": 0, "unsubscribed": 0, "replied": 0, "not_shown": 0},
}


class MessageStatsProjection:
    name = "message_stats"
    tables: tuple[Table, ...] = (message_stats,)
    per_aggregate = False  # one message's counts come from many users' events
    topics: tuple[str, ...] = tuple(get_topic(e) for e in COLUMNS)

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        counts: Counter[tuple[str, str]] = Counter(
            (e.message_id, COLUMNS[type(e)]) for e in events if type(e) in COLUMNS and _counts(e)
        )
        if not counts:
            return
        table = tables["message_stats"]
        ids = {message_id for message_id, _ in counts}
        rows = {
            r["message_id"]: dict(r)
            for r in conn.execute(select(table).where(table.c.message_id.in_(ids))).mappings()
        }
        for (message_id, column), n in counts.items():
            row = rows.setdefault(message_id, {"message_id": message_id, **EMPTY})
            row[column] += n
        upsert(conn, table, list(rows.values()))


def _counts(e: Any) -> bool:
    """Each user once per message: first clicks, first replies to a message."""
    if type(e) in (CLICKED, CLICKED_IN_APP):
        return bool(e.first)
    if type(e) is REPLIED:
        return bool(e.first_reply and e.message_id)
    return True
