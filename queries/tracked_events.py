"""A user's tracked events, newest first, a page at a time; and their summary per name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from domain.errors import InvalidValue
from projections.tables import user_events
from projections.tracked_events import tracked_events as t


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    next: str | None  # the `before` cursor of the next page


def _cursor(text: str) -> tuple[int, str]:
    at, _, key = text.partition(":")
    if not at.isdigit() or len(at) > 12 or len(key) != 32:
        raise InvalidValue("before", "expected the cursor in a previous page's pages.next")
    return int(at), key


def user_event_page(
    conn: Connection, user_key: str, per_page: int, before: str | None = None
) -> EventPage:
    query = select(t).where(t.c.user_id == user_key)
    if before is not None:
        at, key = _cursor(before)
        query = query.where(or_(t.c.created_at < at, and_(t.c.created_at == at, t.c.id < key)))
    query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(per_page + 1)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    following = None
    if len(rows) > per_page:
        rows = rows[:per_page]
        following = f"{rows[-1]['created_at']}:{rows[-1]['id']}"
    return EventPage(rows, following)


def user_event_summary(conn: Connection, user_key: str) -> list[dict[str, Any]]:
    """Per event name: how many times, first and last (as the filters see them)."""
    query = (
        select(
            user_events.c.name, user_events.c.count, user_events.c.first_at, user_events.c.last_at
        )
        .where(user_events.c.user_id == user_key)
        .order_by(user_events.c.name)
    )
    return [
        {"name": r.name, "count": r.count, "first": r.first_at, "last": r.last_at}
        for r in conn.execute(query)
    ]
