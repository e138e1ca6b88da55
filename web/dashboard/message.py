"""A message, read by the team (`/apps/<app_id>/messages/<id>`, where a user's activity
links to): what it says (every variable at its fallback), its type, author and state, who it
is for, and what it achieved so far (the stats projection's counts). Writing, editing and
stopping messages, and the list of them, come with the dashboard's second part."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from flask import abort, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from domain.content import compile_body
from domain.messages import Message
from queries.messages import stats_of
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import when

# The counts a teammate reads, in the order a message goes through them.
STATS = [
    ("sent", "Emails sent"),
    ("delivered", "Shown in the app"),
    ("viewed", "Viewed"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("replied", "Replied"),
    ("unsubscribed", "Unsubscribed"),
]


def state_of(message: Message, now: datetime) -> str:
    if message.stopped_at is not None:
        return "stopped"
    if message.is_sent_email:
        return "sent"
    return "live" if message.live(now) else "ended"


@dashboard.get("/apps/<app_id>/messages/<message_id>")
def message(app_id: str, message_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    try:
        key = UUID(hex=message_id)
    except ValueError:
        abort(404)
    found = s.store.get_as(Message, key)
    if found is None or found.app_id != app_id:
        abort(404)
    now = s.clock.now()
    current = found.current
    body, _ = compile_body(current["body"], current["markup"], None).render({})
    with s.engine.connect() as conn:
        counts = stats_of(conn, [found.message_id])[found.message_id]
    author = who.app.teammate(found.admin_id) if found.admin_id else None
    return render_template(
        "dashboard/message.html",
        who=who,
        message=found,
        subject=current["subject"],
        body=Markup(body),  # sanitised by nh3 when compiled (domain/content.py)
        state=state_of(found, now),
        author=author,
        stats=[(label, counts.get(name, 0)) for name, label in STATS],
        versions=len(found.versions),
        stop_at=(
            datetime.fromtimestamp(found.stop_at, UTC).strftime("%d %b %Y")
            if isinstance(found.stop_at, int)
            else None
        ),
        when=lambda seconds: when(seconds, now),
    )
