"""A message, read by the team (`/apps/<app_id>/messages/<id>`, where the list and a user's
activity link to): what it says now (every variable at its fallback) and its earlier
versions with their dates, its type, author and state, who it is for (an auto message's
conditions in words, never editable), what it achieved so far (the stats projection's
counts), and its recipients page by page with where each stands. Editing and stopping are
web/dashboard/message_actions.py's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import abort, get_flashed_messages, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from domain.content import compile_body
from domain.messages import Message
from projections.message_list import title_of
from queries.message_list import listed_message, recipients_of
from queries.messages import stats_of
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.audience_words import audience_words, filter_words, names_of
from web.dashboard.blueprint import dashboard
from web.dashboard.message_list import EMAIL_STATS, IN_APP_STATS
from web.dashboard.users import when

PER_PAGE = 50
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


def rate(name: str, counts: dict[str, int], message_type: str) -> str:
    """A count as a share of the emails sent, or of the in-app copies shown."""
    base = counts.get("sent" if message_type == "email" else "delivered", 0)
    if name in ("sent", "delivered") or not base:
        return ""
    return f"{100 * counts.get(name, 0) / base:.0f}%"


def state_of(message: Message, now: datetime) -> str:
    if message.stopped_at is not None:
        return "stopped"
    if message.is_sent_email:
        return "sent"
    return "live" if message.live(now) else "ended"


def found_message(app_id: str, message_id: str) -> Message:
    """The app's message, or 404 (another app's, or none)."""
    try:
        key = UUID(hex=message_id)
    except ValueError:
        abort(404)
    found = services().store.get_as(Message, key)
    if found is None or found.app_id != app_id:
        abort(404)
    return found


def rendered(version: dict[str, object]) -> Markup:
    body, _ = compile_body(str(version["body"]), str(version["markup"]), None).render({})
    return Markup(body)  # sanitised by nh3 when compiled (domain/content.py)


def day(seconds: int | None) -> str | None:
    if not isinstance(seconds, int):
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%d %b %Y, %H:%M UTC")


STATES = {
    "queued": "Queued",
    "claimed": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "deferred": "Deferred",
    "uncertain": "Uncertain",
    "skipped": "Not sent",
    "waiting": "Waiting for their next visit",
    "delivered": "Shown",
    "withdrawn": "Withdrawn",
    "not shown": "Not shown",
}


def standing(row: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(state, what the server or Parley said, what the user did since) for one recipient."""
    state, detail = row["state"], row["detail"] or ""
    if state == "deferred":
        tries = row["attempts"]
        detail = f"the mail server said: {detail} ({tries} attempt{'' if tries == 1 else 's'})"
    elif state == "uncertain":
        detail = "cut off while sending; never sent twice"
    elif state == "withdrawn":
        detail = "stopped before their visit"
    elif state == "not shown":
        detail = "it showed them nothing"
    did = [
        word
        for word, column in (
            ("viewed", "viewed_at"),
            ("opened", "opened_at"),
            ("clicked", "clicked_at"),
            ("replied", "replied_at"),
            ("unsubscribed", "unsubscribed_at"),
        )
        if row.get(column)
    ]
    return STATES.get(state, state.capitalize()), detail, did


@dashboard.get("/apps/<app_id>/messages/<message_id>")
def message(app_id: str, message_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    found = found_message(app_id, message_id)
    s = services()
    now = s.clock.now()
    after = request.args.get("after") or None
    with s.engine.connect() as conn:
        counts = stats_of(conn, [found.message_id])[found.message_id]
        names = names_of(conn, app_id)
        listed = listed_message(conn, found.message_id)
        audience = audience_words(conn, app_id, listed, names) if listed else None
        recipients = recipients_of(conn, found.message_id, PER_PAGE, after)
    author = who.app.teammate(found.admin_id) if found.admin_id else None
    conditions = filter_words(found.audience, names) if found.audience is not None else None
    return render_template(
        "dashboard/message.html",
        who=who,
        message=found,
        subject=title_of(found.current) if found.current["subject"] else None,
        body=rendered(found.current),
        earlier=[(day(v["at"]), v["subject"], rendered(v)) for v in found.versions[:-1]][::-1],
        edited_on=day(found.current["at"]),
        state=state_of(found, now),
        author=author,
        audience=audience,
        conditions=conditions,
        stats=[
            (label, counts.get(name, 0), rate(name, counts, found.message_type))
            for name, label in STATS
            if name in (EMAIL_STATS if found.message_type == "email" else IN_APP_STATS)
        ],
        versions=len(found.versions),
        stop_at=day(found.stop_at),
        recipients=recipients,
        after=after,
        next_url=url_for(
            "dashboard.message", app_id=app_id, message_id=message_id, after=recipients.next
        )
        if recipients.next
        else None,
        flashed=get_flashed_messages(with_categories=True),
        standing=standing,
        when=lambda seconds: when(seconds, now),
    )
