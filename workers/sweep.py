"""The periodic sweep: what no request triggers.

- **Auto emails** (seed: "How to use Automated Emails"): each live auto email goes to every
  subscribed user its filter matches who has not had it, including users who match only as
  time passes ("signed up exactly 7 days ago", "last seen more than 30 days ago").
- **Webhooks whose retry is due** but whose job was lost (workers/webhooks.py).
- **Sends that stalled**: a claimed email whose send was lost (the worker holding it died
  before it ran), a delivery left mid-send by a worker that died, a deferred email whose retry
  was lost. Sending again is safe: each (message, user) delivery is claimed once and a send cut
  off mid-way is never repeated (domain/delivery.py). What follows an event (a message's
  fan-out, a notification) is not the sweep's business: the reactions follow the log for that
  (workers/reactions.py).

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, and_, or_, select, text

from domain.delivery import CLAIMED, DEFERRED, SENDING
from domain.user import User
from projections.tables import deliveries, messages
from workers.fan_out import auto_email_round
from workers.jobs import RETRIES, Jobs
from workers.webhooks import due_subscriptions

log = logging.getLogger(__name__)
LOCK_KEY = 0x5A1E5EED  # the sweep's PostgreSQL advisory lock
USER_TOPIC = get_topic(User).replace(":User", ":User.")  # events of users: "domain.user:User."


@dataclass
class Sweeper:
    jobs: Jobs
    stale_after: int = 300  # a delivery claimed or mid-send this long: its job was lost
    retry_after: int = 600  # a deferred delivery not retried this long: its retry was lost
    full_every: int = 3600  # seconds between checks of every user against each auto email
    most_changed: int = 50_000  # more users changed than this since the last sweep: in full
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
                    "stalled": self._stalled(conn, now),
                    "auto_emails": self._auto_emails(conn, now),
                    "webhooks": self._webhooks(conn, now),
                }
            return found

    def _webhooks(self, conn: Connection, now: int) -> int:
        """Subscriptions with a notification due and no sender at it: a planned retry or a
        queued job was lost (a process died)."""
        due = due_subscriptions(conn, now)
        for subscription_id in due:
            self.jobs.webhooks(subscription_id)
        return len(due)

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
        live = select(messages.c.id).where(
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
        claimed = 0
        for message_id in conn.execute(live).scalars():
            claimed += auto_email_round(self.jobs.services, message_id, changed)
        self._position = position
        return claimed

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
