"""The inbox: each conversation's state as the inbox views list and count it."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import nh3
from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, select

from domain.content import conversation_html
from domain.conversations import Conversation
from projections.events import event_class
from projections.tables import PREVIEW, conversation_counts, conversations
from projections.upsert import add_to_counts, upsert

STARTED = event_class(Conversation, "Started")
REPLIED = event_class(Conversation, "Replied")
READ = event_class(Conversation, "Read")


class ConversationsProjection:
    name = "conversations"
    tables: tuple[Table, ...] = (conversations, conversation_counts)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(get_topic(e) for e in (STARTED, REPLIED, READ))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        table = tables["conversations"]
        ids = list({e.originator_id.hex for e in events})
        rows = {
            r["id"]: dict(r)
            for r in conn.execute(select(table).where(table.c.id.in_(ids))).mappings()
        }
        before = {key: _counted(row) for key, row in rows.items()}
        for e in events:
            key = e.originator_id.hex
            if isinstance(e, STARTED):
                by_user = e.author["type"] == "user"
                rows[key] = {
                    "id": key,
                    "app_id": e.app_id,
                    "user_id": e.user_key,
                    "message_id": e.message_id,
                    "user_started": by_user,
                    "assignee_id": e.assignee,
                    "open": True,
                    "created_at": e.at,
                    "updated_at": e.at,
                    "parts": 0,
                    "user_wrote": 0,
                    "user_unread": not by_user,
                    "admins_read": {} if by_user else {e.author["id"]: 0},
                    "assignee_unread": by_user and e.assignee is not None,
                    "preview": preview(e.body, e.markup) or _files(e.attachments),
                    "preview_by": e.author["type"],
                    "waiting": not by_user,
                }
            elif key in rows:
                _change(rows[key], e)
        upsert(conn, table, list(rows.values()))
        change: Counter[tuple[str, str, bool, bool, bool]] = Counter()
        for key, row in rows.items():
            change[_counted(row)] += 1
            if key in before:
                change[before[key]] -= 1
        add_to_counts(conn, tables["conversation_counts"], "conversations", change)


def _counted(row: dict[str, Any]) -> tuple[str, str, bool, bool, bool]:
    """Where a conversation counts: its app, assignee ("" for none), open, unread by them,
    waiting for the user's first answer."""
    key = (row["app_id"], row["assignee_id"] or "", row["open"], row["assignee_unread"])
    return (*key, bool(row["waiting"]))


def _change(row: dict[str, Any], e: Any) -> None:
    """The same rules as the aggregate (domain/conversations.py), on the row."""
    read = dict(row["admins_read"])
    if isinstance(e, READ):
        if e.reader["type"] == "user":
            row["user_unread"] = False
        else:
            read[e.reader["id"]] = e.parts
    else:
        part = e.part
        row["parts"] += 1
        row["updated_at"] = part["at"]
        kind, author = part["part_type"], part["author"]
        if kind == "assignment":
            row["assignee_id"] = part["assigned_to"]
        elif kind == "close":
            row["open"] = False
        elif kind == "open" or (kind == "comment" and author["type"] == "user"):
            row["open"] = True
        if kind == "comment" and (part["body"] or part.get("attachments")):
            row["preview"] = preview(part["body"] or _files(part["attachments"]), "text")
            row["preview_by"] = author["type"]
        if author["type"] == "user":
            row["waiting"] = False
            row["user_wrote"] = row["parts"]
            row["user_unread"] = False
        else:
            read[author["id"]] = row["parts"]
            if kind == "comment":
                row["user_unread"] = True
    row["admins_read"] = read
    assignee = row["assignee_id"]
    row["assignee_unread"] = assignee is not None and admin_unread(row, assignee)


def preview(body: str, markup: str) -> str:
    """The first words of a comment as plain text on one line (an HTML message's tags left
    out), as the inbox list shows them."""
    shown = body if markup == "html" else conversation_html(body)  # Markdown, as the thread
    text = html.unescape(nh3.clean(re.sub(r"</(p|li|h\d|tr|blockquote)>", " ", shown), tags=set()))
    words = " ".join(text.split())
    return words if len(words) <= PREVIEW else words[: PREVIEW - 1].rstrip() + "…"


def _files(attachments: list[dict[str, Any]]) -> str:
    return "📎 " + ", ".join(str(a["name"]) for a in attachments) if attachments else ""


def admin_unread(row: dict[str, Any], admin_id: str) -> bool:
    """The user wrote what this teammate has not read (as Conversation.unread_by_admin)."""
    seen = int(row["admins_read"].get(admin_id, -1))
    if row["user_started"] and seen < 0:
        return True
    return int(row["user_wrote"]) > max(seen, 0)
