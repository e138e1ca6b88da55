"""Inbox views over the conversations projection: all, a teammate's, unassigned or a user's;
open or closed; newest first, in keyset pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, func, or_, select

from domain.errors import InvalidValue
from projections.conversations import ConversationsProjection, admin_unread
from projections.log import Log
from projections.tables import conversation_counts as cc
from projections.tables import conversations as c
from projections.tables import positions


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
    answered: bool = False  # leave out teammates' messages the user has not answered
    before: str | None = None  # a `pages.next` cursor


@dataclass
class Page:
    conversations: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    next: str | None = None


def _cursor(text: str) -> tuple[int, str]:
    """A `pages.next` cursor (`<updated_at>:<id>`), or a bare Unix time ("" as the id: the
    conversations updated before that second)."""
    at, _, key = text.partition(":")
    if not at.isdigit() or len(at) > 12 or (key and len(key) != 32) or (not key and ":" in text):
        raise InvalidValue(
            "before", "expected a Unix time or the pages.next value of a previous page"
        )
    return int(at), key


def inbox_rows(
    conn: Connection, view: Inbox, *, count: bool = True
) -> tuple[list[dict[str, Any]], int | None, str | None]:
    """The view's page of projection rows, newest first, its total (None without `count`:
    counting a large app's view reads every row of it) and the next cursor."""
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
    if view.answered:
        where.append(c.c.waiting.is_(False))
    total = None
    if count:
        counting = select(func.count()).select_from(c).where(*where)
        total = int(conn.execute(counting).scalar_one())
    query = select(c).where(*where)
    if view.before is not None:
        at, key = _cursor(view.before)
        query = query.where(or_(c.c.updated_at < at, and_(c.c.updated_at == at, c.c.id < key)))
    query = query.order_by(c.c.updated_at.desc(), c.c.id.desc()).limit(view.per_page + 1)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    more = len(rows) > view.per_page
    rows = rows[: view.per_page]
    following = f"{rows[-1]['updated_at']}:{rows[-1]['id']}" if more else None
    return rows, total, following


def inbox(conn: Connection, view: Inbox) -> Page:
    rows, total, following = inbox_rows(conn, view)
    assert total is not None
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
    return Page(listed, total, following)


def _read(row: dict[str, Any], view: Inbox) -> bool:
    """The teammate's read state in their view; elsewhere the user's, as one conversation's
    `read` shows it."""
    if view.reader is not None and view.user_key is None:
        return not admin_unread(row, view.reader)
    return not row["user_unread"]


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
    for assignee, is_open, _unread, _waiting, n in _counts(conn, app_id):
        counted["open" if is_open else "closed"] += n
        if is_open:
            counted["assigned" if assignee else "unassigned"] += n
    return counted


def admin_counts(conn: Connection, app_id: str) -> dict[str, dict[str, int]]:
    """Per teammate: conversations assigned to them, open and closed, and the open ones in
    which the user wrote what they have not read (their inbox's unread count)."""
    counted: dict[str, dict[str, int]] = {}
    for assignee, is_open, unread, _waiting, n in _counts(conn, app_id):
        if not assignee:
            continue
        mine = counted.setdefault(assignee, {"open": 0, "closed": 0, "unread": 0})
        mine["open" if is_open else "closed"] += n
        if is_open and unread:
            mine["unread"] += n
    return counted


def view_counts(conn: Connection, app_id: str, admin_id: str) -> dict[str, dict[str, int]]:
    """The dashboard inbox's tabs: for "mine", "unassigned" and "all", how many conversations
    are open and closed, and (mine) how many open ones hold what this teammate has not read;
    teammates' messages the user has not answered left out."""
    counted = {v: {"open": 0, "closed": 0, "unread": 0} for v in ("mine", "unassigned", "all")}
    for assignee, is_open, unread, waiting, n in _counts(conn, app_id):
        if waiting:
            continue
        state = "open" if is_open else "closed"
        views = [
            "all",
            "unassigned" if not assignee else None,
            "mine" if assignee == admin_id else None,
        ]
        for v in filter(None, views):
            counted[v][state] += n
        if assignee == admin_id and is_open and unread:
            counted["mine"]["unread"] += n
    return counted


def _counts(conn: Connection, app_id: str) -> list[tuple[str, bool, bool, bool, int]]:
    query = select(cc.c.assignee_id, cc.c.open, cc.c.unread, cc.c.waiting, cc.c.conversations)
    query = query.where(cc.c.app_id == app_id, cc.c.conversations != 0)
    return [(a, bool(o), bool(u), bool(w), int(n)) for a, o, u, w, n in conn.execute(query)]


def message_conversation(
    conn: Connection, app_id: str, user_key: str, message_id: str
) -> str | None:
    """The conversation a message opened with this user, if it reached them."""
    query = select(c.c.id).where(
        c.c.user_id == user_key, c.c.app_id == app_id, c.c.message_id == message_id
    )
    found = conn.execute(query.limit(1)).scalar()
    return None if found is None else str(found)


CONVERSATION_TOPICS = tuple(ConversationsProjection.topics)


def projected_position(conn: Connection) -> int:
    """How far the conversations projection has read the log: the inbox's rows are current
    up to there."""
    query = select(positions.c.position).where(positions.c.name == ConversationsProjection.name)
    return int(conn.execute(query).scalar() or 0)


def changed_conversations(
    conn: Connection, log: Log, after: int, upto: int, app_id: str | None = None
) -> list[tuple[int, str, str]]:
    """(log position, app id, conversation id) of each conversation event in (after, upto],
    in log order; only this app's with `app_id`. Reads the events' ids alone, and each
    conversation's app off the projection, which holds every conversation up to `upto`."""
    t = log.table
    query = (
        select(t.c.id, log.originator_id_column)
        .where(t.c.id > after, t.c.id <= upto, t.c.topic.in_(CONVERSATION_TOPICS))
        .order_by(t.c.id)
    )
    found = [(int(at), _hex(key)) for at, key in conn.execute(query)]
    apps: dict[str, str] = {}
    keys = sorted({key for _, key in found})
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        where = [c.c.id.in_(chunk)] + ([c.c.app_id == app_id] if app_id is not None else [])
        apps.update(
            (str(k), str(a)) for k, a in conn.execute(select(c.c.id, c.c.app_id).where(*where))
        )
    return [(at, apps[key], key) for at, key in found if key in apps]


def _hex(key: Any) -> str:
    return key.hex if hasattr(key, "hex") and not isinstance(key, str) else UUID(str(key)).hex
