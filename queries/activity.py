"""A user's activity (issue 14): their whole history read from the event store, newest first,
one line per event in plain words, with where it came from and what it links to.

The history is the user's own events and those of their conversations, email deliveries and
notes, in log order. The projections say which conversations, deliveries and notes are the
user's (by indexes: the conversations' user, the app's email messages and their deliveries,
the notes' user); the events themselves come from the store, in two reads: the user's own by
version (their index, however long the history) and the others' by position. Then the names
the lines need (tags, companies, messages), one read each. The values an update replaced are
found by rebuilding the user just before it (a snapshot and the few events after it), never
by reading the whole history. The next page starts below the last line's log position (and,
for the user's own events, below its version: the same events, by their index).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Engine, select

from domain.conversations import Conversation, emailed_conversation_id
from domain.delivery import Delivery
from domain.errors import InvalidValue
from domain.messages import Message
from domain.tags import Tags, tags_key
from domain.user import User
from projections.events import event_class
from projections.log import EventStore, Log, Stored
from projections.tables import companies, conversations, deliveries, messages, notes, tags
from queries.activity_words import MISSING, WORDS, Facts, Said

PER_PAGE = 30
# Bookkeeping that another line says in words already: the relationship score's marks beside
# a conversation's parts, notifying teammates, a delivery's claim and send steps, an email's
# unsubscribe (the user's own event says it). Left out with NOT IN, a short list the planner
# sees as unselective, so it keeps to the user's index (an IN list of the other types made it,
# on stale statistics, read and sort all of a long history).
UNSAID = tuple(
    get_topic(event_class(kind, name))
    for kind, name in (
        (User, "MessageSent"),
        (User, "MessageReceived"),
        (Conversation, "Notifying"),
        (Delivery, "Claimed"),
        (Delivery, "Sending"),
        (Delivery, "Unsubscribed"),
    )
)
UPDATED = event_class(User, "Updated")
MESSAGE_TOPICS = (
    get_topic(event_class(Message, "Created")),
    get_topic(event_class(Message, "Edited")),
)
TAG_TOPICS = tuple(get_topic(event_class(Tags, name)) for name in ("Created", "Renamed"))
CURSOR = re.compile(r"(\d{1,19})-(\d{1,19})")


class HistoryStore(EventStore, Protocol):
    """What the activity reads of the event store (Parley's store): its events table and
    mapper, and its repository, to rebuild the user at a past version."""

    @property
    def repository(self) -> Any: ...


@dataclass(frozen=True)
class Cursor:
    """Where an older page starts: events before log `position`; of the user's own, those
    before `version` (the same events, found by the user's index)."""

    position: int
    version: int

    def encode(self) -> str:
        return f"{self.position}-{self.version}"

    @staticmethod
    def decode(text: str) -> Cursor:
        found = CURSOR.fullmatch(text.strip())
        if found is None:
            raise InvalidValue("before", "expected the Older link of a previous page")
        return Cursor(int(found[1]), int(found[2]))


@dataclass(frozen=True)
class Line:
    position: int  # in the log
    at: int  # when it happened, seconds since the epoch
    text: str
    source: str | None  # snippet, REST API, teammate, email, …
    link: tuple[str, str] | None  # ("conversation", id) or ("message", id)


@dataclass(frozen=True)
class Activity:
    lines: list[Line]
    older: Cursor | None  # None: this page reaches the user's first event


@dataclass(frozen=True)
class Related:
    """What the projections say is the user's: conversations (id -> the message that opened
    it, if any), email deliveries (id -> message) and notes."""

    conversations: dict[str, str | None]
    deliveries: dict[str, str]
    notes: list[str]


def related_to(conn: Connection, app_id: str, user_key: str) -> Related:
    c, d, m = conversations.c, deliveries.c, messages.c
    talks = conn.execute(
        select(c.id, c.message_id).where(c.user_id == user_key, c.app_id == app_id)
    ).all()
    # Deliveries are indexed by (message, user): through the app's email messages.
    emails = conn.execute(
        select(d.id, d.message_id)
        .select_from(messages.join(deliveries, d.message_id == m.id))
        .where(m.app_id == app_id, m.message_type == "email", d.user_id == user_key)
    ).all()
    written = conn.execute(
        select(notes.c.id).where(notes.c.user_id == user_key, notes.c.app_id == app_id)
    ).scalars()
    return Related(
        {r.id: r.message_id for r in talks}, {r.id: r.message_id for r in emails}, list(written)
    )


class Events:
    """The store's events table, read with Core on its autocommit reader (one round trip a
    read) and decoded by its mapper, upcasting what older versions stored."""

    def __init__(self, store: HistoryStore) -> None:
        log = Log(store)
        self.table = log.table
        self.columns = [
            self.table.c.id,
            log.originator_id_column,
            self.table.c.originator_version,
            self.table.c.topic,
            self.table.c.state,
        ]
        self.engine: Engine = store.factory.datastore.reader
        self.decode = store.mapper.to_domain_event

    def rows(self, *where: Any, order: Any, limit: int | None = None) -> list[Row]:
        ordered = order if isinstance(order, tuple) else (order,)
        query = select(*self.columns).where(*where).order_by(*ordered).limit(limit)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query).all()]

    def event(self, row: Row) -> Any:
        _, originator_id, version, topic, state = row
        return self.decode(Stored(originator_id, version, topic, bytes(state)))


Row = tuple[int, Any, int, str, Any]  # position, originator id, version, topic, state


def activity(
    store: HistoryStore,
    conn: Connection,
    *,
    app_id: str,
    user_key: str,
    admins: Mapping[str, Mapping[str, str]],
    before: Cursor | None = None,
    per_page: int = PER_PAGE,
) -> Activity:
    """One page of the user's history, newest first (`conn`: the projections)."""
    user = UUID(hex=user_key)
    related = related_to(conn, app_id, user_key)
    events = Events(store)
    own = _own_events(events, user, before, per_page + 1)
    others = _others_events(events, related, before, per_page + 1)
    shown = sorted(own + others, key=lambda row: row[0], reverse=True)[:per_page]
    decoded = [(row[0], events.event(row)) for row in shown]
    facts = _facts(store, events, conn, app_id, user_key, admins, related, [e for _, e in decoded])
    lines = []
    for position, e in decoded:
        words = WORDS.get(type(e))
        said = words(facts, e) if words is not None else None
        if said is not None:
            lines.append(_line(position, e, said))
    older = None
    if len(own) + len(others) > per_page:
        mine = sum(1 for row in shown if row[1] == user)
        version = own[mine][2] + 1 if mine < len(own) else 1
        older = Cursor(shown[-1][0], version)
    return Activity(lines, older)


def _own_events(events: Events, user: UUID, before: Cursor | None, limit: int) -> list[Row]:
    t = events.table.c
    where: list[Any] = [t.originator_id == user, t.topic.not_in(UNSAID)]
    if before is not None:
        where.append(t.originator_version < before.version)
    return events.rows(*where, order=t.originator_version.desc(), limit=limit)


def _others_events(
    events: Events, related: Related, before: Cursor | None, limit: int
) -> list[Row]:
    ids = [UUID(hex=k) for k in (*related.conversations, *related.deliveries, *related.notes)]
    if not ids:
        return []
    t = events.table.c
    where: list[Any] = [t.originator_id.in_(ids), t.topic.not_in(UNSAID)]
    if before is not None:
        where.append(t.id < before.position)
    # `id + 0`: the few events of these aggregates are found by their own index and sorted,
    # rather than by walking the whole log backwards looking for them.
    return events.rows(*where, order=(t.id + 0).desc(), limit=limit)


def _line(position: int, event: Any, said: Said) -> Line:
    text, source, link = said
    at = getattr(event, "at", None)
    if isinstance(event, event_class(Conversation, "Replied")):
        at = event.part["at"]
    if at is None:
        at = event.timestamp
    seconds = at if isinstance(at, int) else int(at.timestamp())
    return Line(position, seconds, text, source, link)


def _facts(
    store: HistoryStore,
    events: Events,
    conn: Connection,
    app_id: str,
    user_key: str,
    admins: Mapping[str, Mapping[str, str]],
    related: Related,
    page: Sequence[Any],
) -> Facts:
    """The names and earlier values the lines of these events need, each kind in one read."""
    tag_ids = {e.tag_id for e in page if hasattr(e, "tag_id")}
    company_keys = {e.company_key for e in page if hasattr(e, "company_key")}
    message_ids = {e.message_id for e in page if getattr(e, "message_id", None)}
    message_ids |= {
        related.deliveries[e.originator_id.hex]
        for e in page
        if e.originator_id.hex in related.deliveries
    }
    tag_names = _names(conn, app_id, tags.c.id, [tags.c.name], tag_ids)
    if tag_ids - set(tag_names):
        tag_names.update(_deleted_tags(events, app_id, tag_ids - set(tag_names)))
    company_names = _names(
        conn, app_id, companies.c.id, [companies.c.name, companies.c.company_id], company_keys
    )
    by_message = {m: k for k, m in related.conversations.items() if m is not None}
    return Facts(
        admins={k: a.get("name") or a.get("email") or k for k, a in admins.items()},
        tags=tag_names,
        companies=company_names,
        messages=_messages(events, message_ids),
        conversation_of_message=by_message,
        deliveries=related.deliveries,
        emailed=lambda message_id: _emailed(related, message_id, user_key),
        earlier=_earlier_values(store, page),
    )


def _names(
    conn: Connection, app_id: str, key: Any, names: list[Any], wanted: set[str]
) -> dict[str, str]:
    """Names by id from a projection table (the first of `names` that is set)."""
    if not wanted:
        return {}
    query = select(key, *names).where(key.in_(wanted), key.table.c.app_id == app_id)
    return {row[0]: next((n for n in row[1:] if n), row[0]) for row in conn.execute(query)}


def _deleted_tags(events: Events, app_id: str, ids: set[str]) -> dict[str, str]:
    """The last names of deleted tags, from the app's Tags aggregate (one per app)."""
    t = events.table.c
    found: dict[str, str] = {}
    for row in events.rows(
        t.originator_id == tags_key(app_id), t.topic.in_(TAG_TOPICS), order=t.originator_version
    ):
        e = events.event(row)
        if e.tag_id in ids:
            found[e.tag_id] = f"{e.name} (since deleted)"
    return found


def _emailed(related: Related, message_id: str, user_key: str) -> tuple[str, str]:
    """Where a line about an email links: the conversation it opened, else the message."""
    talk = emailed_conversation_id(message_id, user_key)
    return ("conversation", talk) if talk in related.conversations else ("message", message_id)


def _messages(events: Events, ids: set[str]) -> dict[str, Any]:
    """The messages these ids name, as far as the lines need them: kind, author, versions."""
    if not ids:
        return {}
    t = events.table.c
    found: dict[str, Any] = {}
    for row in events.rows(
        t.originator_id.in_([UUID(hex=i) for i in ids]),
        t.topic.in_(MESSAGE_TOPICS),
        order=(t.originator_id, t.originator_version),
    ):
        e = events.event(row)
        if row[2] == 1:
            found[e.message_id] = {"kind": e.kind, "admin_id": e.admin_id, "versions": []}
        if e.originator_id.hex in found:
            found[e.originator_id.hex]["versions"].append(e.version)
    return found


def _earlier_values(store: HistoryStore, events: Sequence[Any]) -> dict[int, dict[str, Any]]:
    """For each update among these events (by version), the values it changed as they were
    just before it: the user rebuilt before the first (a snapshot and the events after it),
    then brought forward through the rest."""
    updates = sorted(e.originator_version for e in events if isinstance(e, UPDATED))
    if not updates:
        return {}
    user_id = next(e.originator_id for e in events if isinstance(e, UPDATED))
    user = store.repository.get(user_id, version=updates[0] - 1)
    found: dict[int, dict[str, Any]] = {}
    later: Callable[..., Any] = store.repository.event_store.get
    for e in later(originator_id=user_id, gt=updates[0] - 1, lte=updates[-1]):
        if isinstance(e, UPDATED):
            found[e.originator_version] = {
                **{key: getattr(user, key, None) for key in e.attributes},
                **{f"custom.{key}": user.custom.get(key, MISSING) for key in e.custom},
            }
        user = e.mutate(user)
    return found
