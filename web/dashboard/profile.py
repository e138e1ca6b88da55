"""A user's profile (seed: "User data", "Relationship", "Tags"): every attribute the projections
hold, custom data with its types, companies, tags, segments, the relationship score with its
two halves, the team's notes, tracked events and the user's conversations. Reached from the
list, or by the seed's deep links `/apps/<app_id>/users/show?email=...` and `?user_id=...`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from domain.app import App
from domain.content import sanitise
from domain.relationship import relationship_half
from projections.tables import user_events
from queries.conversations import Inbox, inbox
from queries.notes import notes_of
from queries.users import find_user
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.activity import activity_page
from web.dashboard.blueprint import dashboard
from web.dashboard.shown import exact, typed
from web.dashboard.users import when

NOTES_PER_PAGE = 10


def local_time(timezone: str | None, now: datetime) -> str | None:
    """The user's local time now, from the time zone their browser reported."""
    if not timezone:
        return None
    try:
        return now.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dashboard.get("/apps/<app_id>/users/show")
def deep_link(app_id: str) -> ResponseReturnValue:
    """The seed's deep links: a user by email or by user_id, for links from your own tools."""
    teammate_of(app_id)
    email, user_id = request.args.get("email"), request.args.get("user_id")
    if not email and not user_id:
        abort(404)
    s = services()
    with s.engine.connect() as conn:
        row = find_user(conn, app_id, now=s.clock.now(), email=email, user_id=user_id)
    if row is None:
        abort(404)
    return redirect(url_for("dashboard.profile", app_id=app_id, user_key=row["id"]))


def written(app: App, row: dict[str, Any]) -> dict[str, Any]:
    """A note as the profile shows it: its teammate's name (None: the API named no one)."""
    admin = app.teammate(row["admin_id"]) if row["admin_id"] else None
    name = (admin.get("name") or admin.get("email")) if admin else None
    return {
        **row,
        "by": name or ("a former teammate" if row["admin_id"] else None),
        "iso": datetime.fromtimestamp(row["created_at"], UTC).isoformat(),
        "body": Markup(sanitise(row["body"])),  # sanitised by nh3 (domain/content.py)
    }


@dashboard.get("/apps/<app_id>/users/<user_key>")
def profile(
    app_id: str, user_key: str, note_problem: str | None = None, note_typed: str = ""
) -> str:
    """The profile; the notes form's refusal (`note_problem`) shows beside what was typed."""
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    moment = int(now.timestamp())
    with s.engine.connect() as conn:
        row = find_user(conn, app_id, now=now, id=user_key)
        if row is None:
            abort(404)
        e = user_events.c
        tracked = conn.execute(
            select(e.name, e.count, e.first_at, e.last_at)
            .where(e.user_id == row["id"])
            .order_by(e.last_at.desc())
        ).all()
        talks = inbox(conn, Inbox(app_id=app_id, user_key=row["id"], per_page=10))
        recent = activity_page(conn, who, row["id"])
        notes_page = max(request.args.get("notes", 1, type=int) or 1, 1)
        notes = notes_of(conn, app_id, row["id"], notes_page, NOTES_PER_PAGE)
    halves = {
        "sent": relationship_half(row["last_message_sent_at"], moment),
        "received": relationship_half(row["last_message_received_at"], moment),
    }
    custom = sorted((row.get("custom_attributes") or {}).items())
    shown = [(key, *typed(key, value)) for key, value in custom]
    return render_template(
        "dashboard/profile.html",
        who=who,
        user=row,
        custom=shown,
        tracked=tracked,
        talks=talks,
        activity=recent,
        notes=notes,
        written=[written(who.app, n) for n in notes.items],
        note_problem=note_problem,
        note_typed=note_typed,
        halves=halves,
        local=local_time(row.get("timezone"), now),
        when=lambda seconds: when(seconds, now),
        exact=exact,
    )
