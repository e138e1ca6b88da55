"""An app's messages, newest first, with their counts; a message's recipients, page by page,
each with where they stand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from projections.message_list import message_list
from projections.message_recipients import message_recipients
from projections.tables import users
from queries.messages import stats_of


@dataclass(frozen=True)
class MessagePage:
    items: list[dict[str, Any]]
    next: tuple[int, str] | None  # (created_at, id) of the last row, when more follow


def app_messages(
    conn: Connection,
    app_id: str,
    per_page: int,
    before: tuple[int, str] | None = None,
    kind: str | None = None,
) -> MessagePage:
    """The app's messages (of one `kind`: manual or auto), newest first, `per_page` after
    `before`, each with its stats."""
    m = message_list.c
    query = select(message_list).where(m.app_id == app_id)
    if kind is not None:
        query = query.where(m.kind == kind)
    if before is not None:
        at, key = before
        query = query.where(or_(m.created_at < at, and_(m.created_at == at, m.id < key)))
    found = conn.execute(query.order_by(m.created_at.desc(), m.id.desc()).limit(per_page + 1))
    rows = [dict(r) for r in found.mappings()]
    more = len(rows) > per_page
    rows = rows[:per_page]
    stats = stats_of(conn, [r["id"] for r in rows])
    items = [{**r, "stats": stats[r["id"]]} for r in rows]
    following = (rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return MessagePage(items, following)


def listed_message(conn: Connection, message_id: str) -> dict[str, Any] | None:
    found = conn.execute(select(message_list).where(message_list.c.id == message_id)).first()
    return dict(found._mapping) if found is not None else None


@dataclass(frozen=True)
class RecipientPage:
    items: list[dict[str, Any]]
    next: str | None  # the last user's key, when more follow


def recipients_of(
    conn: Connection, message_id: str, per_page: int, after: str | None = None
) -> RecipientPage:
    """A message's recipients in a stable order (by user key), with each one's name and
    email as the users projection has them now."""
    r = message_recipients.c
    query = (
        select(message_recipients, users.c.name, users.c.email, users.c.user_id.label("uid"))
        .outerjoin(users, users.c.id == r.user_id)
        .where(r.message_id == message_id, r.state != "")
    )
    if after is not None:
        query = query.where(r.user_id > after)
    found = conn.execute(query.order_by(r.user_id).limit(per_page + 1)).mappings()
    rows = [dict(row) for row in found]
    more = len(rows) > per_page
    rows = rows[:per_page]
    return RecipientPage(rows, rows[-1]["user_id"] if more else None)
