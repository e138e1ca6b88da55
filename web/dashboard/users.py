"""The user list (seed: "Filtering the user list"): newest first, a column to sort by, keyset
pages, the exact total; the filter in the URL as `?filter=` with the JSON of
`GET /users?filter=`, so a list can be bookmarked and shared (the filter bar comes next)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from commands.audience_schemas import UserSearchArgs
from domain.errors import InvalidValue
from domain.filters import EVERYONE, Filter
from queries.audience.choice import ListUsers, list_users
from queries.segments import definitions
from queries.users import Cursor, Listing
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.errors import explained

SEARCH = UserSearchArgs()
# What the list's URL may say; anything else (utm_source, fbclid, …) is left alone.
LIST_ARGS = ("filter", "sort", "order", "after")
PER_PAGE = 50
# What the table shows, and which of its columns sort the list.
COLUMNS = [
    ("name", "Name", "name"),
    ("email", "Email", "email"),
    ("signed_up_at", "Signed up", "signed_up_at"),
    ("last_seen_at", "Last seen", "last_seen_at"),
    ("session_count", "Sessions", "session_count"),
    ("place", "City", None),
    ("relationship_score", "Relationship", "relationship_score"),
]


def when(seconds: int | None, now: datetime) -> str:
    """A date as a teammate reads it in a list: "3 days ago", "2 hours ago", "1 Mar 2025"."""
    if seconds is None:
        return "—"
    at = datetime.fromtimestamp(seconds, UTC)
    ago = (now - at).total_seconds()
    if 0 <= ago < 60:
        return "just now"
    if 0 <= ago < 3600:
        return f"{int(ago // 60)} min ago"
    if 0 <= ago < 86_400:
        hours = int(ago // 3600)
        return f"{hours} hour{'s' if hours > 1 else ''} ago"
    if 0 <= ago < 30 * 86_400:
        days = int(ago // 86_400)
        return f"{days} day{'s' if days > 1 else ''} ago"
    return f"{at.day} {at:%b %Y}"


@dashboard.get("/apps/<app_id>/users")
def user_list(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    problem, found = None, None
    args: dict[str, Any] = {}
    try:
        asked_for = {k: v for k, v in request.args.items() if k in LIST_ARGS and v.strip()}
        args = SEARCH.load(asked_for)
        audience: Filter = args.get("filter", EVERYONE)
        after = Cursor.decode(args["after"]) if "after" in args else None
        asked = ListUsers(app_id, audience, args["sort"], args["order"], PER_PAGE, after)
        with s.engine.connect() as conn:
            found = list_users(conn, asked, now, definitions(conn, app_id), s.indexes)
    except ValidationError as error:
        problem = explained(error.messages)
    except InvalidValue as invalid:  # a cursor that was edited or cut
        problem = f"{invalid.field}: {invalid.reason}"
    status = 400 if problem else 200
    page = render_template(
        "dashboard/users.html",
        who=who,
        found=found,
        problem=problem,
        columns=COLUMNS,
        sort=args.get("sort", "created_at"),
        order=args.get("order", "desc"),
        filter_text=request.args.get("filter", "").strip(),
        sort_url=lambda column: _sort_url(app_id, column, args),
        next_url=_next_url(app_id, found),
        when=lambda seconds: when(seconds, now),
    )
    return page, status


def _sort_url(app_id: str, column: str, args: dict[str, Any]) -> str:
    """The list sorted by this column: descending first, ascending when already descending."""
    order = "asc" if args.get("sort") == column and args.get("order") == "desc" else "desc"
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("filter",)}
    return url_for("dashboard.user_list", app_id=app_id, **kept, sort=column, order=order)


def _next_url(app_id: str, found: Listing | None) -> str | None:
    if found is None or found.next is None:
        return None
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    return url_for("dashboard.user_list", app_id=app_id, **kept, after=found.next.encode())
