"""Inbox views over the conversations projection: all, a teammate's, unassigned or a user's;
open or closed; newest first, in keyset pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from domain.errors import InvalidValue
from projections.conversations import admin_unread
from projections.tables import conversation_counts as cc
from projections.tables import conversations as c


@dataclass
class Inbox:
    app_id: str
    open: bool | None = None
    per_page: int = 25
    assignee: str | None = None
    unassigned: bool = False
    user_key: str | None = None
    unread_by_user: bool = False
    reader: str | None = None  # the teammate whose read state `read` shows
    before: str | None = None  # a `pages.next` cursor


@dataclass
class Page:
    conversations: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    next: str | None = None


def _cursor(text: str) -> tuple[int, str]:
    at, _, key = text.partition(":")
    if not at.isdigit() or len(key) != 32:
        raise InvalidValue("before", "expected the pages.next value of a previous page")
    return int(at), key


def inbox(conn: Connection, view: Inbox) -> Page:
    where = [c.c.app_id == view.app_id]
    if view.open is not None:
        where.append(c.c.open.is_(view.open))
    if view.unassigned:
        where.append(c.c.assignee_id.is_(None))
    elif view.assignee is not None:
        where.append(c.c.assignee_id == view.assignee)
    if view.user_key is not None:
        where.append(c.c.user_id == view.user_key)
        if view.unread_by_user:
            where.append(c.c.user_unread.is_(True))
    total = int(conn.execute(select(func.count()).select_from(c).where(*where)).scalar_one())
    query = select(c).where(*where)
    if view.before is not None:
        at, key = _cursor(view.before)
        query = query.where(or_(c.c.updated_at < at, and_(c.c.updated_at == at, c.c.id < key)))
    query = query.order_by(c.c.updated_at.desc(), c.c.id.desc()).limit(view.per_page + 1)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    more = len(rows) > view.per_page
    rows = rows[: view.per_page]
    listed = [
        {
            "type": "conversation",
            "id": r["id"],
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
            "user": {"type": "user", "id": r["user_id"]},
            "assignee": {"type": "admin", "id": r["assignee_id"]} if r["assignee_id"] else None,
            "open": r["open"],
            "read": _read(r, view),
            "parts": r["parts"],
        }
        for r in rows
    ]
    following = f"{rows[-1]['updated_at']}:{rows[-1]['id']}" if more else None
    return Page(listed, total, following)


def _read(row: dict[str, Any], view: Inbox) -> bool | None:
    if view.user_key is not None:
        return not row["user_unread"]
    if view.reader is not None:
        return not admin_unread(row, view.reader)
    return None


def unread_by_user(
    conn: Connection, app_id: str, user_key: str, excluding: str | None = None
) -> int:
    """How many of the user's conversations hold a teammate's comment they have not read (the
    widget's badge): one count over the user's index entries (`excluding` one, whose state
    the caller holds fresher than the projection)."""
    query = (
        select(func.count())
        .select_from(c)
        .where(c.c.user_id == user_key, c.c.app_id == app_id, c.c.user_unread.is_(True))
    )
    if excluding is not None:
        query = query.where(c.c.id != excluding)
    return int(conn.execute(query).scalar_one())


def inbox_counts(conn: Connection, app_id: str) -> dict[str, int]:
    """`GET /counts?type=conversation`: open, closed, assigned (open) and unassigned (open),
    from the running counts the projection keeps."""
    counted = {"open": 0, "closed": 0, "assigned": 0, "unassigned": 0}
    for assignee, is_open, _unread, n in _counts(conn, app_id):
        counted["open" if is_open else "closed"] += n
        if is_open:
            counted["assigned" if assignee else "unassigned"] += n
    return counted


def admin_counts(conn: Connection, app_id: str) -> dict[str, dict[str, int]]:
    """Per teammate: conversations assigned to them, open and closed, and the open ones in
    which the user wrote what they have not read (their inbox's unread count)."""
    counted: dict[str, dict[str, int]] = {}
    for assignee, is_open, unread, n in _counts(conn, app_id):
        if not assignee:
            continue
        mine = counted.setdefault(assignee, {"open": 0, "closed": 0, "unread": 0})
        mine["open" if is_open else "closed"] += n
        if is_open and unread:
            mine["unread"] += n
    return counted


def _counts(conn: Connection, app_id: str) -> list[tuple[str, bool, bool, int]]:
    query = select(cc.c.assignee_id, cc.c.open, cc.c.unread, cc.c.conversations).where(
        cc.c.app_id == app_id, cc.c.conversations != 0
    )
    return [(a, bool(o), bool(u), int(n)) for a, o, u, n in conn.execute(query)]


def message_conversation(
    conn: Connection, app_id: str, user_key: str, message_id: str
) -> str | None:
    """The conversation a message opened with this user, if it reached them."""
    query = select(c.c.id).where(
        c.c.user_id == user_key, c.c.app_id == app_id, c.c.message_id == message_id
    )
    found = conn.execute(query.limit(1)).scalar()
    return None if found is None else str(found)
