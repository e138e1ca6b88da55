"""The users read model: every attribute, sessions, last seen, custom data, companies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, delete, select, tuple_

from domain.filters import USER_ATTRIBUTES
from domain.user import User, count_occurrence, effective_unsubscribe
from domain.values import browser
from projections.events import event_class
from projections.tables import app_user_counts, user_companies, user_events, user_tags, users
from projections.upsert import add_to_counts, upsert

Row = dict[str, Any]
# What a user list can be sorted by: the standard attributes this read model holds as columns.
SORTABLE = (*tuple(name for name in USER_ATTRIBUTES if name in users.c), "relationship_score")


def seconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _fresh(event: Any) -> Row:
    at = seconds(event.at)
    return {
        "id": event.originator_id.hex,
        "app_id": event.app_id,
        "user_id": event.user_id,
        "email": event.email,
        "name": None,
        "signed_up_at": None,
        "created_at": at,
        "updated_at": at,
        "last_seen_at": None,
        "last_request_at": None,
        "session_count": 0,
        "session_source": None,
        "impressions": 0,
        "last_url": None,
        "last_seen_ip": None,
        "user_agent": None,
        "browser": None,
        "timezone": None,
        "city": None,
        "country": None,
        "unsubscribed_by_snippet": None,
        "unsubscribed_manually": False,
        "unsubscribed_from_emails": False,
        "custom_attributes": {},
        "last_message_sent_at": None,
        "last_message_received_at": None,
    }


class Batch:
    """Rows touched by one batch of events, loaded once and written once."""

    def __init__(
        self, rows: dict[str, Row], memberships: set[tuple[str, str]], tagged: set[tuple[str, str]]
    ) -> None:
        self.rows = rows
        self.deleted: set[str] = set()
        self.joined: set[tuple[str, str]] = set()
        self.left: set[tuple[str, str]] = set()
        self.memberships = memberships
        self.events: dict[tuple[str, str], Row] = {}  # (user, name) -> how often, when
        self.events_cleared: set[str] = set()  # users whose stored stats are void
        self.tagged: set[tuple[str, str]] = set()
        self.untagged: set[tuple[str, str]] = set()
        self.had_tags = tagged


def on_created(batch: Batch, event: Any) -> None:
    batch.rows[event.originator_id.hex] = _fresh(event)
    batch.deleted.discard(event.originator_id.hex)


def on_restored(batch: Batch, event: Any) -> None:
    row = _fresh(event)
    batch.rows[row["id"]] = row
    batch.deleted.discard(row["id"])


def on_updated(batch: Batch, event: Any) -> None:
    row = batch.rows[event.originator_id.hex]
    row.update(event.attributes)
    row["custom_attributes"] = {**row["custom_attributes"], **event.custom}


def on_seen(batch: Batch, event: User.Seen) -> None:
    row = batch.rows[event.originator_id.hex]
    at = seconds(event.at)
    if row["last_seen_at"] is None or at >= row["last_seen_at"]:
        row["last_seen_at"] = at
    if event.via == "api":
        row["last_request_at"] = at
    if event.new_session:
        row["session_count"] += 1
        row["session_source"] = event.source
    if event.url is not None:
        row["impressions"] += 1
        row["last_url"] = event.url
    for name, column in (
        ("ip", "last_seen_ip"),
        ("user_agent", "user_agent"),
        ("timezone", "timezone"),
        ("city", "city"),
        ("country", "country"),
    ):
        value = getattr(event, name)
        if value is not None:
            row[column] = value
    if event.user_agent is not None:
        row["browser"] = browser(event.user_agent)


def on_unsubscribe_set(batch: Batch, event: Any) -> None:
    row = batch.rows[event.originator_id.hex]
    if event.by == "snippet":
        row["unsubscribed_by_snippet"] = event.unsubscribed
    else:
        row["unsubscribed_manually"] = event.unsubscribed
    row["unsubscribed_from_emails"] = effective_unsubscribe(
        row["unsubscribed_by_snippet"], row["unsubscribed_manually"]
    )


def on_joined_company(batch: Batch, event: Any) -> None:
    pair = (event.originator_id.hex, event.company_key)
    batch.left.discard(pair)
    batch.joined.add(pair)


def on_left_company(batch: Batch, event: Any) -> None:
    pair = (event.originator_id.hex, event.company_key)
    batch.joined.discard(pair)
    batch.left.add(pair)


def on_tagged(batch: Batch, event: Any) -> None:
    pair = (event.originator_id.hex, event.tag_id)
    batch.untagged.discard(pair)
    batch.tagged.add(pair)


def on_untagged(batch: Batch, event: Any) -> None:
    pair = (event.originator_id.hex, event.tag_id)
    batch.tagged.discard(pair)
    batch.untagged.add(pair)


def latest(column: str) -> Callable[[Batch, Any], None]:
    """A handler keeping the latest `event.at` in `column` (message times)."""

    def on_event(batch: Batch, event: Any) -> None:
        row = batch.rows[event.originator_id.hex]
        row[column] = max(row[column] or 0, seconds(event.at) or 0)

    return on_event


def on_tracked(batch: Batch, event: Any) -> None:
    key = (event.originator_id.hex, event.name)
    stats = batch.events.setdefault(key, {"user_id": key[0], "name": key[1]})
    count_occurrence(stats, int(event.at.timestamp()))


def on_deleted(batch: Batch, event: Any) -> None:
    user = event.originator_id.hex
    batch.deleted.add(user)
    batch.joined = {pair for pair in batch.joined if pair[0] != user}
    batch.left |= {pair for pair in batch.memberships if pair[0] == user}
    batch.tagged = {pair for pair in batch.tagged if pair[0] != user}
    batch.untagged |= {pair for pair in batch.had_tags if pair[0] == user}
    batch.events = {key: stats for key, stats in batch.events.items() if key[0] != user}
    batch.events_cleared.add(user)


HANDLERS: dict[type, Callable[[Batch, Any], None]] = {
    event_class(User, "Created"): on_created,
    event_class(User, "Restored"): on_restored,
    event_class(User, "Updated"): on_updated,
    User.Seen: on_seen,
    event_class(User, "UnsubscribeSet"): on_unsubscribe_set,
    event_class(User, "JoinedCompany"): on_joined_company,
    event_class(User, "LeftCompany"): on_left_company,
    event_class(User, "Tagged"): on_tagged,
    event_class(User, "Untagged"): on_untagged,
    event_class(User, "EventTracked"): on_tracked,
    event_class(User, "MessageSent"): latest("last_message_sent_at"),
    event_class(User, "MessageReceived"): latest("last_message_received_at"),
    event_class(User, "Deleted"): on_deleted,
}


class UsersProjection:
    name = "users"
    tables: tuple[Table, ...] = (users, user_companies, user_tags, user_events, app_user_counts)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(get_topic(cls) for cls in HANDLERS)

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        mine = [e for e in events if type(e) in HANDLERS]
        if not mine:
            return
        users_t, members_t, tags_t = tables["users"], tables["user_companies"], tables["user_tags"]
        ids = list({e.originator_id.hex for e in mine})
        rows = {
            r["id"]: dict(r)
            for r in conn.execute(select(users_t).where(users_t.c.id.in_(ids))).mappings()
        }
        memberships = {
            (r.user_id, r.company_id)
            for r in conn.execute(
                select(members_t.c.user_id, members_t.c.company_id).where(
                    members_t.c.user_id.in_(ids)
                )
            )
        }
        tagged = {
            (r.user_id, r.tag_id)
            for r in conn.execute(
                select(tags_t.c.user_id, tags_t.c.tag_id).where(tags_t.c.user_id.in_(ids))
            )
        }
        before = {key: row["app_id"] for key, row in rows.items()}
        batch = Batch(rows, memberships, tagged)
        events_t = tables["user_events"]
        for stats in conn.execute(select(events_t).where(events_t.c.user_id.in_(ids))).mappings():
            batch.events[(stats["user_id"], stats["name"])] = dict(stats)
        latest: dict[str, datetime] = {}
        for event in mine:
            HANDLERS[type(event)](batch, event)
            latest[event.originator_id.hex] = event.timestamp
        for key, moment in latest.items():
            if key in batch.rows:
                batch.rows[key]["updated_at"] = seconds(moment)
        if batch.deleted:
            conn.execute(delete(users_t).where(users_t.c.id.in_(batch.deleted)))
        upsert(conn, users_t, [r for i, r in batch.rows.items() if i not in batch.deleted])
        _count_users(conn, tables["app_user_counts"], before, batch)
        _write_pairs(conn, members_t, "company_id", batch, batch.joined, batch.left)
        _write_pairs(conn, tags_t, "tag_id", batch, batch.tagged, batch.untagged)
        _write_events(conn, events_t, batch)


def _count_users(conn: Connection, table: Table, before: dict[str, str], batch: Batch) -> None:
    """Rows the batch added or removed, per app, onto each app's running count."""
    change: Counter[str] = Counter()
    for key, row in batch.rows.items():
        if key not in before and key not in batch.deleted:
            change[row["app_id"]] += 1
    for key in batch.deleted:
        if key in before:
            change[before[key]] -= 1
    add_to_counts(conn, table, "users", change)


def _write_events(conn: Connection, table: Table, batch: Batch) -> None:
    if batch.events_cleared:
        conn.execute(delete(table).where(table.c.user_id.in_(batch.events_cleared)))
    rows = [
        {**stats, "app_id": batch.rows[user]["app_id"]}
        for (user, _name), stats in batch.events.items()
        if user not in batch.deleted and user in batch.rows
    ]
    upsert(conn, table, rows)


def _write_pairs(
    conn: Connection,
    table: Table,
    column: str,
    batch: Batch,
    added: set[tuple[str, str]],
    removed: set[tuple[str, str]],
) -> None:
    if removed:
        conn.execute(delete(table).where(tuple_(table.c.user_id, table.c[column]).in_(removed)))
    rows = [
        {"user_id": u, column: other, "app_id": batch.rows[u]["app_id"]}
        for u, other in added
        if u not in batch.deleted
    ]
    upsert(conn, table, rows)
