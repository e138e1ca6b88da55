"""A user's activity on their profile (queries/activity.py): the first page comes with the
profile; its "Older" link asks this endpoint, which answers the whole page to a plain link
and only the lines (and the next "Older" link) to htmx, which puts them in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, select
from werkzeug.exceptions import HTTPException

from domain.errors import InvalidValue
from projections.tables import users
from queries.activity import Activity, Cursor, Line, activity
from web.context import services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import when

# Where a line links, as DESIGN.md names the dashboard's pages; linked once the page exists.
PAGES = {"conversation": ("inbox", "Conversation"), "message": ("messages", "Message")}


@dataclass(frozen=True)
class Shown:
    """A line as the page shows it: its words, source, time, and link (when there is a page)."""

    line: Line
    href: str | None
    link_label: str

    @property
    def iso(self) -> str:
        return datetime.fromtimestamp(self.line.at, UTC).isoformat()


@dataclass(frozen=True)
class ActivityPage:
    lines: list[Shown]
    older_url: str | None
    first: bool = True  # the newest page, not an older one
    problem: str | None = None


def exact(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%d %b %Y, %H:%M UTC")


def activity_page(
    conn: Connection, who: Teammate, user_key: str, before: Cursor | None = None
) -> ActivityPage:
    """A page of the user's activity, ready to show (the user must be of `who`'s app)."""
    app_id = who.app.app_id
    found: Activity = activity(
        services().store,
        conn,
        app_id=app_id,
        user_key=user_key,
        admins=who.app.admins,
        before=before,
    )
    older = (
        url_for(
            "dashboard.user_activity",
            app_id=app_id,
            user_key=user_key,
            before=found.older.encode(),
        )
        if found.older is not None
        else None
    )
    return ActivityPage([_shown(app_id, line) for line in found.lines], older, before is None)


def _shown(app_id: str, line: Line) -> Shown:
    if line.link is None:
        return Shown(line, None, "")
    folder, label = PAGES[line.link[0]]
    return Shown(line, _page_at(f"/apps/{app_id}/{folder}/{line.link[1]}"), label)


def _page_at(path: str) -> str | None:
    """The path if a dashboard page answers it (the inbox and messages pages come later)."""
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(path)
    except HTTPException:
        return None
    return request.script_root + path if str(endpoint).startswith("dashboard.") else None


@dashboard.get("/apps/<app_id>/users/<user_key>/activity")
def user_activity(app_id: str, user_key: str) -> ResponseReturnValue:
    """`?before=` an older page: the whole page, or only its lines when htmx asks."""
    who = teammate_of(app_id)
    s = services()
    u = users.c
    with s.engine.connect() as conn:
        query = select(u.id, u.name, u.email, u.user_id).where(u.id == user_key, u.app_id == app_id)
        user = conn.execute(query).mappings().first()
        if user is None:
            abort(404)
        try:
            given = request.args.get("before", "").strip()
            page = activity_page(conn, who, user_key, Cursor.decode(given) if given else None)
        except InvalidValue as invalid:
            page = ActivityPage([], None, False, f"{invalid.field}: {invalid.reason}")
    now = s.clock.now()
    fragment = request.headers.get("HX-Request") == "true"
    shown = render_template(
        "dashboard/_activity.html" if fragment else "dashboard/activity.html",
        who=who,
        user=user,
        activity=page,
        activity_fragment=fragment,
        when=lambda seconds: when(seconds, now),
        exact=exact,
    )
    return shown, 400 if page.problem else 200, {"Vary": "HX-Request"}
