"""Webhook deliveries: each event of a subscribed topic, POSTed to the subscription's URL as a
signed Intercom 1.x `notification_event`, at least once, in log order per subscription.

Two halves:

- **The outbox** follows the notification log like a projection (its own tracked position,
  `webhooks`): each event of a topic some subscription of its app wants becomes one row per
  such subscription in `webhook_deliveries`, written in the same transaction as the position,
  so nothing is queued twice or skipped when a process dies. Which subscriptions exist is read
  from the log in the same pass (`webhook_subscriptions`), so a subscription gets exactly the
  events recorded after it. It is not a read model: it is never rebuilt (that would send
  everything again).
- **The sender** (`deliver`, run by the `deliver_webhooks` job) takes a lease on one
  subscription and sends its pending rows oldest first, one at a time: the next only once the
  receiver took the one before (a 2xx answer within 10 seconds), so the receiver sees them in
  order. A failure is retried with exponential backoff (5 s, doubling, at most an hour apart);
  after a day of failures the subscription is paused, saying why, and what was pending waits
  for it to be resumed. A job that finds the lease taken ends; the holder looks again for
  anything new once it has let go, so nothing queued meanwhile waits. The sweep queues the job
  for any subscription with a delivery due, in case a queued job was lost.

Each notification's `id` stays the same on every attempt, so a receiver that got one twice (an
answer lost on the way back) can tell. Redirects are never followed, and the URL's addresses
are checked before each attempt (commands/webhooks.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from commands.clock import Clock
from commands.handling import handle
from commands.store import Parley
from commands.webhooks import ChangeSubscription, change_subscription, check_url
from domain.company import Company
from domain.content import conversation_html
from domain.conversations import Conversation
from domain.errors import InvalidValue
from domain.user import User, effective_unsubscribe
from domain.webhooks import PING, Webhooks, webhooks_key
from projections.events import event_class
from projections.log import EventStore
from projections.runner import Runner
from projections.tables import JSONDoc, Seconds, metadata

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10  # for the whole answer; connecting too
MIN_BACKOFF, MAX_BACKOFF = 5, 3600  # seconds between attempts
GIVE_UP_AFTER = 86_400  # failing this long since the first attempt: the subscription pauses
LEASE_SECONDS = 120
PENDING, DELIVERED = "pending", "delivered"

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("topics", JSONDoc, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("lease_until", Seconds),  # a sender is at work on it until then
    Index("webhook_subscriptions_app", "app_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),  # the notification's id, on every attempt
    Column("subscription_id", String(32), nullable=False),
    # Order of writing, which is the log's: the outbox applies one batch at a time, under its
    # position's lock.
    Column("seq", Integer, nullable=False),
    Column("topic", String(64), nullable=False),
    Column("created_at", Seconds, nullable=False),
    Column("item", JSONDoc, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_sent_at", Seconds),
    Column("last_attempt_at", Seconds),
    Column("next_attempt_at", Seconds),
    Column("delivered_at", Seconds),
    Column("last_status", Integer),
    Column("last_error", Text),
    Index("webhook_deliveries_due", "subscription_id", "state", "seq"),
)

SUBSCRIBED = event_class(Webhooks, "Subscribed")
PAUSED = event_class(Webhooks, "Paused")
RESUMED = event_class(Webhooks, "Resumed")
UNSUBSCRIBED = event_class(Webhooks, "Unsubscribed")
USER_CREATED = event_class(User, "Created")
USER_DELETED = event_class(User, "Deleted")
UNSUBSCRIBE_SET = event_class(User, "UnsubscribeSet")
USER_TAGGED = event_class(User, "Tagged")
USER_UNTAGGED = event_class(User, "Untagged")
TRACKED = event_class(User, "EventTracked")
STARTED = Conversation.Started
REPLIED = event_class(Conversation, "Replied")
COMPANY_CREATED = event_class(Company, "Created")

ADMIN_TOPICS = {
    "comment": "conversation.admin.replied",
    "assignment": "conversation.admin.assigned",
    "note": "conversation.admin.noted",
    "close": "conversation.admin.closed",
    "open": "conversation.admin.opened",
}


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    return int(value) if isinstance(value, int | float) else int(value.timestamp())


def user_item(user: User) -> dict[str, Any]:
    return {
        "type": "user",
        "id": user.id.hex,
        "user_id": user.user_id,
        "email": user.email,
        "name": user.name,
        "created_at": _seconds(user.created_at),
        "signed_up_at": user.signed_up_at,
        "last_request_at": _seconds(user.last_request_at),
        "session_count": user.session_count,
        "unsubscribed_from_emails": effective_unsubscribe(
            user.snippet_unsubscribed, user.manual_unsubscribed
        ),
        "custom_attributes": dict(user.custom),
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": t} for t in user.tags]},
        "companies": {
            "type": "company.list",
            "companies": [{"type": "company", "id": c} for c in user.companies],
        },
    }


def _party(author: dict[str, str] | None) -> dict[str, str] | None:
    return None if author is None else {"type": author["type"], "id": author["id"]}


def conversation_item(conversation: Conversation, part: dict[str, Any] | None) -> dict[str, Any]:
    """The conversation, with only the part that made this notification (as Intercom sent)."""
    parts = [] if part is None else [part]
    return {
        "type": "conversation",
        "id": conversation.conversation_id,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "user": {"type": "user", "id": conversation.user_key},
        "assignee": _party(
            {"type": "admin", "id": conversation.assignee} if conversation.assignee else None
        ),
        "open": conversation.open,
        "read": not conversation.unread_by_user,
        "conversation_message": {
            "type": "conversation_message",
            "id": conversation.message_id,
            "subject": conversation.subject,
            "body": conversation.body
            if conversation.markup == "html"
            else conversation_html(conversation.body),
            "author": _party(conversation.author),
        },
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [
                {
                    "type": "conversation_part",
                    "id": p["id"],
                    "part_type": p["part_type"],
                    "body": conversation_html(p["body"]) if p["body"] else None,
                    "created_at": p["at"],
                    "author": _party(p["author"]),
                    "assigned_to": _party({"type": "admin", "id": p["assigned_to"]})
                    if p.get("assigned_to")
                    else None,
                }
                for p in parts
            ],
        },
    }


def company_item(company: Company) -> dict[str, Any]:
    return {
        "type": "company",
        "id": company.id.hex,
        "company_id": company.company_id,
        "name": company.name,
        "created_at": _seconds(company.created_at),
        "custom_attributes": dict(company.custom),
    }


@dataclass(frozen=True)
class Due:
    """One event's notification for the subscriptions of its app that want its topic."""

    app_id: str
    topic: str
    item: Callable[[], dict[str, Any]]  # built only when some subscription wants it


class WebhookOutbox:
    """Follows the log (as a projection does, rows and position in one transaction) and writes
    a delivery row per subscription that wants each event. Not in all_projections: never
    rebuilt."""

    name = "webhooks"
    per_aggregate = False
    tables: tuple[Table, ...] = (webhook_subscriptions, webhook_deliveries)

    def __init__(self, store: Parley) -> None:
        self.store = store
        self.touched: set[str] = set()  # subscriptions given something to send this pass
        self._seq = 0
        kinds = (
            SUBSCRIBED,
            PAUSED,
            RESUMED,
            UNSUBSCRIBED,
            USER_CREATED,
            USER_DELETED,
            UNSUBSCRIBE_SET,
            USER_TAGGED,
            USER_UNTAGGED,
            TRACKED,
            STARTED,
            REPLIED,
            COMPANY_CREATED,
        )
        self.topics: tuple[str, ...] = tuple(get_topic(kind) for kind in kinds)

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        subs, rows = tables["webhook_subscriptions"], tables["webhook_deliveries"]
        self._seq = int(conn.execute(select(func.max(rows.c.seq))).scalar() or 0)
        wanted = self._active(conn, subs)
        for event in events:
            if isinstance(event, SUBSCRIBED | PAUSED | RESUMED | UNSUBSCRIBED):
                self._subscription(conn, subs, rows, event)
                wanted = self._active(conn, subs)
                if isinstance(event, SUBSCRIBED):
                    ping = {"type": "ping", "message": "Subscribed to " + ", ".join(event.topics)}
                    self._queue(conn, rows, event, event.subscription_id, PING, ping)
                continue
            if not wanted:
                continue
            due = self._due(event)
            if due is None:
                continue
            targets = [
                s
                for s, (app, topics) in wanted.items()
                if app == due.app_id and due.topic in topics
            ]
            if not targets:
                continue
            item = due.item()
            for subscription_id in targets:
                self._queue(conn, rows, event, subscription_id, due.topic, item)

    def _active(self, conn: Connection, subs: Table) -> dict[str, tuple[str, list[str]]]:
        query = select(subs.c.id, subs.c.app_id, subs.c.topics).where(subs.c.active.is_(True))
        return {r.id: (r.app_id, list(r.topics)) for r in conn.execute(query)}

    def _subscription(self, conn: Connection, subs: Table, rows: Table, event: Any) -> None:
        sid = event.subscription_id
        if isinstance(event, SUBSCRIBED):
            conn.execute(
                insert(subs).values(
                    id=sid, app_id=event.app_id, topics=list(event.topics), active=True
                )
            )
        elif isinstance(event, UNSUBSCRIBED):
            conn.execute(delete(subs).where(subs.c.id == sid))
            conn.execute(delete(rows).where(rows.c.subscription_id == sid, rows.c.state == PENDING))
        else:
            active = isinstance(event, RESUMED)
            conn.execute(update(subs).where(subs.c.id == sid).values(active=active))
            if active:
                self.touched.add(sid)

    def _queue(
        self, conn: Connection, rows: Table, event: Any, sid: str, topic: str, item: Any
    ) -> None:
        key = uuid5(NAMESPACE_URL, f"{sid}/{event.originator_id.hex}/{event.originator_version}")
        self._seq += 1
        conn.execute(
            insert(rows).values(
                id=key.hex,
                subscription_id=sid,
                seq=self._seq,
                topic=topic,
                created_at=int(event.timestamp.timestamp()),
                item=item,
                state=PENDING,
                attempts=0,
            )
        )
        self.touched.add(sid)

    def _due(self, event: Any) -> Due | None:
        store = self.store
        if isinstance(event, COMPANY_CREATED):
            key = event.originator_id

            def company() -> dict[str, Any]:
                found = store.get_as(Company, key)
                return company_item(found) if found else {"type": "company", "id": key.hex}

            return Due(event.app_id, "company.created", company)
        if isinstance(event, STARTED):
            if event.author["type"] != "user":
                return None
            cid = event.originator_id
            return Due(
                event.app_id, "conversation.user.created", lambda: self._conversation(cid, None)
            )
        if isinstance(event, REPLIED):
            part = event.part
            if part["author"]["type"] == "user":
                if part["part_type"] != "comment":
                    return None
                topic = "conversation.user.replied"
            else:
                topic = ADMIN_TOPICS.get(part["part_type"], "")
                if not topic:
                    return None
            found = store.get_as(Conversation, event.originator_id)
            if found is None:
                return None
            return Due(found.app_id, topic, lambda: conversation_item(found, part))
        user = store.get_as(User, event.originator_id)
        if user is None:
            return None
        if isinstance(event, USER_CREATED):
            return Due(user.app_id, "user.created", lambda: user_item(user))
        if isinstance(event, USER_DELETED):  # who it was: its identifiers are kept
            return Due(user.app_id, "user.deleted", lambda: user_item(user))
        if isinstance(event, UNSUBSCRIBE_SET):
            if not event.unsubscribed:
                return None
            return Due(user.app_id, "user.unsubscribed", lambda: user_item(user))
        if isinstance(event, USER_TAGGED | USER_UNTAGGED):
            topic = "user.tag.created" if isinstance(event, USER_TAGGED) else "user.tag.deleted"
            tag_id = event.tag_id
            return Due(
                user.app_id,
                topic,
                lambda: {
                    "type": "user_tag",
                    "created_at": int(event.timestamp.timestamp()),
                    "tag": {
                        "type": "tag",
                        "id": tag_id,
                        "name": self._tag_name(user.app_id, tag_id),
                    },
                    "user": user_item(user),
                },
            )
        if isinstance(event, TRACKED):
            return Due(
                user.app_id,
                "event.created",
                lambda: {
                    "type": "event",
                    "event_name": event.name,
                    "created_at": int(event.at.timestamp()),
                    "user_id": user.user_id,
                    "email": user.email,
                    "intercom_user_id": user.id.hex,
                    "metadata": dict(event.metadata or {}),
                },
            )
        return None

    def _conversation(self, key: UUID, part: dict[str, Any] | None) -> dict[str, Any]:
        found = self.store.get_as(Conversation, key)
        return conversation_item(found, part) if found else {"type": "conversation", "id": key.hex}

    def _tag_name(self, app_id: str, tag_id: str) -> str | None:
        from domain.tags import Tags, tags_key

        tags = self.store.get_as(Tags, tags_key(app_id))
        return tags.names.get(tag_id) if tags is not None else None


class OutboxRunner(Runner):
    """The outbox's runner: after each committed batch, the subscriptions it gave something to
    send get their delivery job (a job queued before the commit could find nothing yet)."""

    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        outbox: WebhookOutbox,
        kick: Callable[[str], None],
    ) -> None:
        super().__init__(store, engine, [outbox])
        self.outbox = outbox
        self.kick = kick

    def step(self, projection: Any, head: int) -> int:
        reached = super().step(projection, head)
        touched, self.outbox.touched = self.outbox.touched, set()
        for subscription_id in sorted(touched):
            self.kick(subscription_id)
        return reached


# -- sending ---------------------------------------------------------------------------------


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a 3xx is an answer like any other non-2xx: a failure


OPENER = urllib.request.build_opener(NoRedirects)


def signature(secret: str | None, body: bytes) -> str | None:
    if not secret:
        return None
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def post(url: str, body: bytes, secret: str | None) -> tuple[int | None, str | None]:
    """(status, error): the receiver's status, or None and what went wrong."""
    headers = {"Content-Type": "application/json", "User-Agent": "Parley-Webhooks/1"}
    signed = signature(secret, body)
    if signed:
        headers["X-Hub-Signature"] = signed
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with OPENER.open(request, timeout=TIMEOUT_SECONDS) as answer:
            answer.read(65_536)
            return int(answer.status), None
    except urllib.error.HTTPError as error:
        return int(error.code), f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, f"{type(error).__name__}: {reason}"[:500]


def backoff(attempts: int) -> int:
    return int(min(MAX_BACKOFF, MIN_BACKOFF * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Sent:
    """What one run of the sender did: how many went, and in how many seconds to try again
    (None: nothing left to do, or someone else is at it)."""

    delivered: int
    retry_in: int | None
    busy: bool = False  # another sender holds the subscription's lease


def _lease(engine: Engine, subscription_id: str, now: int) -> bool:
    subs = webhook_subscriptions
    with engine.begin() as conn:
        taken = conn.execute(
            update(subs)
            .where(
                subs.c.id == subscription_id,
                or_(subs.c.lease_until.is_(None), subs.c.lease_until < now),
            )
            .values(lease_until=now + LEASE_SECONDS)
        ).rowcount
    return bool(taken)


def _release(engine: Engine, subscription_id: str) -> None:
    subs = webhook_subscriptions
    with engine.begin() as conn:
        conn.execute(update(subs).where(subs.c.id == subscription_id).values(lease_until=None))


def notification(app_id: str, row: Any, attempts: int, first_sent_at: int) -> dict[str, Any]:
    return {
        "type": "notification_event",
        "id": row.id,
        "topic": row.topic,
        "app_id": app_id,
        "created_at": row.created_at,
        "delivery_attempts": attempts,
        "first_sent_at": first_sent_at,
        "data": {"type": "notification_event_data", "item": row.item},
    }


def deliver(
    store: Parley, engine: Engine, clock: Clock, subscription_id: str, allow_private: bool
) -> Sent:
    """Send this subscription's pending notifications, oldest first, until one fails or none
    is left (see the module's docstring).

    A job kicked while this one holds the lease finds it busy and ends, so after letting go
    of the lease this one looks once more: a notification queued after its last look would
    otherwise wait for the sweep (or, with no sweep, for ever)."""
    delivered = 0
    while True:
        now = int(clock.now().timestamp())
        if not _lease(engine, subscription_id, now):
            return Sent(delivered, None, busy=delivered == 0)
        try:
            sent, drained = _send_pending(store, engine, clock, subscription_id, allow_private)
        finally:
            _release(engine, subscription_id)
        delivered += sent.delivered
        if not drained or not _has_fresh(engine, subscription_id):
            return Sent(delivered, sent.retry_in)


def _has_fresh(engine: Engine, subscription_id: str) -> bool:
    """Whether a notification never tried yet waits for this subscription."""
    rows = webhook_deliveries
    with engine.connect() as conn:
        found = conn.execute(
            select(rows.c.id)
            .where(
                rows.c.subscription_id == subscription_id,
                rows.c.state == PENDING,
                rows.c.next_attempt_at.is_(None),
            )
            .limit(1)
        ).first()
    return found is not None


def _send_pending(
    store: Parley, engine: Engine, clock: Clock, subscription_id: str, allow_private: bool
) -> tuple[Sent, bool]:
    """One leased pass of the sender: what it did, and whether it stopped for finding
    nothing pending (rather than for a failure, a planned retry or a paused subscription)."""
    delivered = 0
    rows = webhook_deliveries
    while True:
        with engine.connect() as conn:
            row = conn.execute(
                select(rows)
                .where(rows.c.subscription_id == subscription_id, rows.c.state == PENDING)
                .order_by(rows.c.seq)
                .limit(1)
            ).first()
            app_id = conn.execute(
                select(webhook_subscriptions.c.app_id).where(
                    webhook_subscriptions.c.id == subscription_id
                )
            ).scalar()
        if row is None or app_id is None:
            return Sent(delivered, None), row is None
        now = int(clock.now().timestamp())
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return Sent(delivered, None), False  # its retry is already planned
        hooks = store.get_as(Webhooks, webhooks_key(app_id))
        found = hooks.subscriptions.get(subscription_id) if hooks is not None else None
        if found is None or not found["active"]:
            return Sent(delivered, None), False
        attempts = row.attempts + 1
        first = row.first_sent_at or now
        body = json.dumps(notification(app_id, row, attempts, first)).encode()
        try:
            check_url(found["url"], allow_private)
            status, error = post(found["url"], body, found["hub_secret"])
        except InvalidValue as refused:
            status, error = None, refused.reason
        done = status is not None and 200 <= status < 300
        # Counted and dated in the database, not from the row read before the attempt: a
        # sender whose lease ran out (a stall past LEASE_SECONDS) and the one that took over
        # both count, and the first attempt's time stays the first.
        changes: dict[str, Any] = {
            "attempts": rows.c.attempts + 1,
            "first_sent_at": func.coalesce(rows.c.first_sent_at, first),
            "last_attempt_at": now,
            "last_status": status,
            "last_error": None if done else (error or f"HTTP {status}"),
        }
        if done:
            changes.update(state=DELIVERED, delivered_at=now, next_attempt_at=None)
        else:
            changes["next_attempt_at"] = now + backoff(attempts)
        with engine.begin() as conn:
            conn.execute(update(rows).where(rows.c.id == row.id).values(**changes))
        if done:
            delivered += 1
            continue
        if now - first >= GIVE_UP_AFTER:
            reason = (
                f"paused after failing for a day ({attempts} attempts); last: "
                f"{changes['last_error']}"
            )
            handle(
                change_subscription,
                ChangeSubscription(app_id, subscription_id, "pause", reason),
                store,
                clock,
            )
            return Sent(delivered, None), False
        return Sent(delivered, backoff(attempts)), False


def due_subscriptions(conn: Connection, now: int) -> list[str]:
    """Subscriptions with a delivery whose attempt is due and no sender at work (the sweep
    queues their job, in case the one planned was lost)."""
    rows, subs = webhook_deliveries, webhook_subscriptions
    query = (
        select(rows.c.subscription_id)
        .join(subs, subs.c.id == rows.c.subscription_id)
        .where(
            rows.c.state == PENDING,
            subs.c.active.is_(True),
            or_(rows.c.next_attempt_at.is_(None), rows.c.next_attempt_at <= now),
            or_(subs.c.lease_until.is_(None), subs.c.lease_until < now),
        )
        .group_by(rows.c.subscription_id)
    )
    return list(conn.execute(query).scalars())


def delivery_page(
    conn: Connection, subscription_id: str, per_page: int, page: int
) -> tuple[list[dict[str, Any]], int]:
    rows = webhook_deliveries
    total = conn.execute(
        select(func.count()).select_from(rows).where(rows.c.subscription_id == subscription_id)
    ).scalar_one()
    query = (
        select(rows)
        .where(rows.c.subscription_id == subscription_id)
        .order_by(rows.c.seq.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [dict(r) for r in conn.execute(query).mappings()], int(total)
