"""A message to its many users: who they are (a query over the users projection) and the
record that it goes to each (an email's claims, an in-app message waiting on each user).

Both are safe to repeat: a user claimed or queued before is left as is. Nothing here sends:
the reactions queue a send for each claim (workers/reactions.py), and the sweep sends again a
claim that waited too long (workers/sweep.py).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, exists

from commands.auto_messages import (
    MarkDispatched,
    QueueInApp,
    audience_of,
    mark_dispatched,
    queue_in_app,
)
from commands.delivery import claim_emails
from commands.handling import handle
from domain.filters import Filter, parse_filter
from domain.messages import Message
from projections.tables import deliveries, users
from queries.audience.sql import matching_query
from queries.segments import definitions
from workers.services import Services

IN_ONE_QUERY = 5000  # bound values per statement (SQLite caps them)


def fan_out(services: Services, message: Message) -> int:
    """A manual message to every user its filter matches now (an email only to those with an
    address who did not unsubscribe), or to its chosen users; recorded as dispatched once
    every copy is claimed or queued, and never fanned out again after that (a fan-out cut
    off before is done again: claims and queues already made are left as they are). Returns
    how many users it went to."""
    if message.kind != "manual" or message.dispatched_at is not None:
        return 0  # dispatched: a replay of the log must not reach users who came later
    if message.audience is None:
        keys = list(message.recipients or [])
    else:
        with services.engine.connect() as conn:
            keys = _audience(conn, services, message, parse_filter(message.audience))
    if message.message_type == "email":
        claim_emails(services.store, message, keys, services.clock)
    else:
        for key in keys:
            queued = QueueInApp(message.message_id, key)
            handle(queue_in_app, queued, services.store, services.clock)
    dispatched = MarkDispatched(message.message_id, len(keys))
    handle(mark_dispatched, dispatched, services.store, services.clock)
    return len(keys)


def auto_email_round(services: Services, message_id: str, among: set[str] | None = None) -> int:
    """Claim the live auto email for each subscribed user it matches now and has not reached
    (with `among`, only those of these users); returns how many were claimed."""
    if among is not None and not among:
        return 0
    message = services.store.recent(Message, UUID(hex=message_id))
    if message is None or message.kind != "auto" or not message.live(services.clock.now()):
        return 0
    with services.engine.connect() as conn:
        due = _audience(conn, services, message, audience_of(message), among)
    return claim_emails(services.store, message, due, services.clock)


def _audience(
    conn: Connection,
    services: Services,
    message: Message,
    audience: Filter,
    among: set[str] | None = None,
) -> list[str]:
    """The app's users the filter matches now; for an email, only those with an address, not
    unsubscribed, and not claimed before."""
    lookup = definitions(conn, message.app_id)
    query = matching_query(conn, message.app_id, audience, services.clock.now(), lookup)
    if message.message_type == "email":
        had_it = exists().where(
            deliveries.c.message_id == message.message_id, deliveries.c.user_id == users.c.id
        )
        query = query.where(
            users.c.email.is_not(None), users.c.unsubscribed_from_emails.is_(False), ~had_it
        )
    if among is None:
        return list(conn.execute(query).scalars())
    listed = sorted(among)
    return [
        key
        for n in range(0, len(listed), IN_ONE_QUERY)
        for key in conn.execute(query.where(users.c.id.in_(listed[n : n + IN_ONE_QUERY]))).scalars()
    ]
