"""An app's messages as the team lists them (`/apps/<app_id>/messages`): kind, type, author,
who it is for, how it reads (its subject, else the first words of its body, every variable at
its fallback), its versions and whether it was stopped; one row per message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Column, Connection, Index, Integer, String, Table, select

from domain.content import compile_body
from domain.errors import InvalidValue
from domain.messages import Message
from projections.events import event_class
from projections.tables import JSONDoc, Seconds, metadata
from projections.upsert import upsert

TITLE = 120  # characters of a body's first words

message_list = Table(
    "message_list",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # manual or auto
    Column("message_type", String(32), nullable=False),
    Column("admin_id", String(64)),
    Column("title", String(255), nullable=False),  # subject, else the body's first words
    Column("audience", JSONDoc),  # the filter, when it goes to whoever matches one
    Column("chosen", Integer),  # how many chosen users, when it goes to a list of them
    Column("first_recipient", String(32)),
    Column("versions", Integer, nullable=False),
    Column("created_at", Seconds, nullable=False),
    Column("edited_at", Seconds),
    Column("stop_at", Seconds),
    Column("stopped_at", Seconds),
    Index("message_list_app_created", "app_id", "created_at", "id"),
)

CREATED = event_class(Message, "Created")
EDITED = event_class(Message, "Edited")
STOPPED = event_class(Message, "Stopped")


def title_of(version: dict[str, Any]) -> str:
    """A message in one line: its subject, else its body's first words (at the fallbacks)."""
    try:
        if (version.get("subject") or "").strip():
            text = compile_body(version["subject"], "markdown", None, "subject").render({})[1]
        else:
            text = compile_body(version["body"], version["markup"], None).render({})[1]
    except InvalidValue:  # written before a rule it breaks: its source is still words
        text = version.get("subject") or version["body"]
    words = " ".join(text.split()) or "(no words: an image or a video)"
    return words if len(words) <= TITLE else words[: TITLE - 1].rsplit(" ", 1)[0] + "…"


class MessageListProjection:
    name = "message_list"
    tables: tuple[Table, ...] = (message_list,)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(get_topic(e) for e in (CREATED, EDITED, STOPPED))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        table = tables["message_list"]
        ids = {e.originator_id.hex for e in events}
        rows = {
            r["id"]: dict(r)
            for r in conn.execute(select(table).where(table.c.id.in_(ids))).mappings()
        }
        for e in events:
            key = e.originator_id.hex
            if isinstance(e, CREATED):
                rows[key] = {
                    "id": key,
                    "app_id": e.app_id,
                    "kind": e.kind,
                    "message_type": e.message_type,
                    "admin_id": e.admin_id,
                    "title": title_of(e.version),
                    "audience": e.audience,
                    "chosen": len(e.recipients) if e.recipients is not None else None,
                    "first_recipient": e.recipients[0] if e.recipients else None,
                    "versions": 1,
                    "created_at": e.version["at"],
                    "edited_at": None,
                    "stop_at": e.stop_at,
                    "stopped_at": None,
                }
            elif key in rows and isinstance(e, EDITED):
                row = rows[key]
                row.update(title=title_of(e.version), edited_at=e.version["at"])
                row["versions"] += 1
            elif key in rows and isinstance(e, STOPPED):
                rows[key]["stopped_at"] = e.at
        upsert(conn, table, list(rows.values()))
