"""The periodic sweep: what no request triggers.

- **Auto emails** (seed: "How to use Automated Emails"): each live auto email goes to every
  subscribed user its filter matches who has not had it, including users who match only as
  time passes ("signed up exactly 7 days ago", "last seen more than 30 days ago").
- **Work that was acknowledged but lost**: a manual message whose jobs never ran (the web
  process died with its in-memory queue), a delivery left claimed or mid-send by a worker that
  died, a deferred email whose retry was lost. Sending again is safe: each (message, user)
  delivery is claimed once and a send cut off mid-way is never repeated (domain/delivery.py).

Auto emails are checked in full (every user each one matches) once an hour, which finds the
users who came to match only because time passed; in between, each sweep checks only the users
whose events the users projection applied since the last one (read from the notification
log), so a sweep with nothing due costs a read of the recent log, two indexed queries and, per
live auto email, one query over the changed users. On PostgreSQL one process at a time sweeps
(an advisory lock); elsewhere overlapping sweeps only repeat idempotent work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, and_, exists, or_, select, text

from commands.auto_messages import audience_of
from domain.delivery import CLAIMED, DEFERRED, SENDING
from domain.messages import Message
from domain.user import User
from projections.tables import deliveries, messages, users
from queries.filters import user_filter
from queries.segments import definitions
from workers.jobs import RETRIES, Jobs

log = logging.getLogger(__name__)
LOCK_KEY = 0x5A1E5EED  # the sweep's PostgreSQL advisory lock
USER_TOPIC = get_topic(User).replace(":User", ":User.")  # events of users: "domain.user:User."


@dataclass
class Sweeper:
    jobs: Jobs
    dispatch_after: int = 60  # a manual message not dispatched by then is sent again
    stale_after: int = 300  # a delivery claimed or mid-send this long: its worker died
    retry_after: int = 600  # a deferred delivery not retried this long: its retry was lost
    recall: float = 600.0  # an auto email queued to a user is not queued again for this long
    full_every: int = 3600  # seconds between checks of every user against each auto email
    most_changed: int = 50_000  # more users changed than this since the last sweep: in full
    _queued: dict[tuple[str, str], float] = field(default_factory=dict)
    _full_at: int | None = None  # when auto emails were last checked in full (clock seconds)
    _position: int = 0  # the users projection's position at the last sweep

    def sweep(self) -> dict[str, int]:
        """One pass; returns how many jobs of each kind it queued."""
        s = self.jobs.services
        with self._turn() as mine:
            if not mine:
                return {}
            now = int(s.clock.now().timestamp())
            with s.engine.connect() as conn:
                found = {
                    "undispatched": self._undispatched(conn, now),
                    "stalled": self._stalled(conn, now),
                    "auto_emails": self._auto_emails(conn, now),
                }
            return found

    def _undispatched(self, conn: Connection, now: int) -> int:
        query = select(messages.c.id).where(
            messages.c.kind == "manual",
            messages.c.dispatched_at.is_(None),
            messages.c.stopped_at.is_(None),
            messages.c.created_at < now - self.dispatch_after,
        )
        found = list(conn.execute(query).scalars())
        for message_id in found:  # to its filter's users or its chosen users, again
            self.jobs.send_everyone(message_id)
        return len(found)

    def _stalled(self, conn: Connection, now: int) -> int:
        d = deliveries
        query = (
            select(d.c.message_id, d.c.user_id, messages.c.bulk)
            .join(messages, messages.c.id == d.c.message_id)
            .where(
                or_(
                    and_(
                        d.c.state.in_([CLAIMED, SENDING]),
                        d.c.updated_at < now - self.stale_after,
                    ),
                    and_(
                        d.c.state == DEFERRED,
                        d.c.attempts < RETRIES,
                        d.c.updated_at < now - self.retry_after,
                    ),
                )
            )
        )
        rows = conn.execute(query).all()
        for message_id, user_key, bulk in rows:
            self.jobs.email(message_id, user_key, bulk, retries=0)  # the sweep is the retry
        return len(rows)

    def _auto_emails(self, conn: Connection, now: int) -> int:
        live = select(messages.c.id, messages.c.app_id).where(
            messages.c.kind == "auto",
            messages.c.message_type == "email",
            messages.c.stopped_at.is_(None),
            or_(messages.c.stop_at.is_(None), messages.c.stop_at > now),
        )
        position = self.jobs.services.runner.positions()["users"]
        changed = None
        if self._full_at is not None and now - self._full_at < self.full_every:
            changed = self._changed_users(self._position, position)
        if changed is None:
            self._full_at = now
        queued = 0
        for message_id, app_id in conn.execute(live).all():
            queued += self.send_auto_email(conn, message_id, app_id, changed)
        self._position = position
        return queued

    def _changed_users(self, start: int, end: int) -> set[str] | None:
        """Users with events in the log after `start` up to `end` (the users projection has
        applied them); None when there are too many to list."""
        recorder = self.jobs.services.store.recorder
        found: set[str] = set()
        while start < end:
            page = recorder.select_notifications(start, 5000, stop=end, inclusive_of_start=False)
            if not page:
                break
            found.update(
                UUID(str(n.originator_id)).hex for n in page if n.topic.startswith(USER_TOPIC)
            )
            if len(found) > self.most_changed:
                return None
            start = page[-1].id
        return found

    def send_auto_email(
        self, conn: Connection, message_id: str, app_id: str, among: set[str] | None = None
    ) -> int:
        """Queue the auto email to each subscribed user it matches now and has not reached
        (with `among`, only those of these users)."""
        if among is not None and not among:
            return 0
        s = self.jobs.services
        message = s.store.recent(Message, UUID(hex=message_id))
        if message is None or not message.live(s.clock.now()):
            return 0
        lookup = definitions(conn, app_id)
        where = user_filter(audience_of(message), conn.dialect.name, s.clock.now(), lookup, app_id)
        had_it = exists().where(deliveries.c.message_id == message_id)
        had_it = had_it.where(deliveries.c.user_id == users.c.id)
        query = select(users.c.id).where(
            users.c.app_id == app_id,
            users.c.email.is_not(None),
            users.c.unsubscribed_from_emails.is_(False),
            ~had_it,
            where,
        )
        if among is None:
            due = list(conn.execute(query).scalars())
        else:  # a bounded number of bound values per statement (SQLite caps them)
            listed = sorted(among)
            due = [
                key
                for n in range(0, len(listed), 5000)
                for key in conn.execute(query.where(users.c.id.in_(listed[n : n + 5000]))).scalars()
            ]
        moment, queued = time.monotonic(), 0
        for user_key in due:
            if moment - self._queued.get((message_id, user_key), -self.recall) < self.recall:
                continue  # queued a moment ago; its job has not claimed it yet
            self._queued[(message_id, user_key)] = moment
            self.jobs.email(message_id, user_key, True)
            queued += 1
        if len(self._queued) > 100_000:
            self._queued = {k: t for k, t in self._queued.items() if moment - t < self.recall}
        return queued

    @contextmanager
    def _turn(self) -> Iterator[bool]:
        """Whether this process sweeps now: on PostgreSQL, only the holder of the lock."""
        engine = self.jobs.services.engine
        if engine.dialect.name != "postgresql":
            yield True
            return
        with engine.connect() as conn:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            )
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                conn.commit()

    def run_every(self, seconds: float) -> threading.Event:
        """Sweep in a daemon thread every `seconds` until the returned event is set."""
        stopping = threading.Event()

        def loop() -> None:
            while not stopping.wait(seconds):
                try:
                    found = self.sweep()
                    if any(found.values()):
                        log.info("sweep queued %s", found)
                except Exception:  # a failed sweep is retried at the next one
                    log.exception("sweep failed")

        threading.Thread(target=loop, name="sweep", daemon=True).start()
        return stopping
