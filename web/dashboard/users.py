"""The user list (seed: "Filtering the user list"): newest first, a column to sort by, keyset
pages, the exact total, the custom columns each teammate picked; the filter in the URL as
`?filter=` with the JSON of `GET /users?filter=`, so a list can be bookmarked and shared, and
`?q=` for the search box (name or email starting with it). The filter bar that writes the
JSON is web/static/filter-bar.js; without it the JSON box itself still works."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import get_flashed_messages, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError, fields, validate

from commands.audience_schemas import UserSearchArgs
from commands.preferences import preferences
from domain.errors import InvalidValue
from domain.filters import EVERYONE, Filter, Group, conditions, parse_filter
from queries.audience.catalogue import Catalogue, catalogue
from queries.audience.choice import ListUsers, list_users
from queries.segments import definitions
from queries.users import Cursor, Listing
from web.context import services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.blueprint import dashboard
from web.errors import explained


class ListArgs(UserSearchArgs):
    """The list's URL: the REST API's arguments, and the search box."""

    q = fields.String(validate=validate.Length(max=255))


ARGS = ListArgs()
# What the list's URL may say; anything else (utm_source, fbclid, …) is left alone.
LIST_ARGS = ("filter", "q", "sort", "order", "after")
PER_PAGE = 50
# What the table shows, and which of its columns sort the list (the name's cell holds the
# email too, sorted by its own link in that header).
COLUMNS = [
    ("name", "Name", "name"),
    ("created_at", "First seen", "created_at"),
    ("signed_up_at", "Signed up", "signed_up_at"),
    ("last_seen_at", "Last seen", "last_seen_at"),
    ("session_count", "Sessions", "session_count"),
    ("place", "City", "city"),
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


def searching(q: str) -> Filter:
    """The search box as a filter: name or email starting with what was typed."""
    return parse_filter(
        {
            "any": [
                {"attribute": "name", "operator": "starts_with", "value": q},
                {"attribute": "email", "operator": "starts_with", "value": q},
            ]
        }
    )


def audience_of(args: dict[str, Any]) -> Filter:
    """Who the list's URL means: its filter and its search, both at once."""
    parts: list[Filter] = []
    if "filter" in args:
        parts.append(args["filter"])
    if args.get("q", "").strip():
        parts.append(searching(args["q"].strip()))
    if not parts:
        return EVERYONE
    return parts[0] if len(parts) == 1 else Group("all", tuple(parts))


def list_args(source: Any) -> dict[str, Any]:
    """The list's arguments from a query string or form (raises ValidationError)."""
    asked_for = {k: v for k, v in source.items() if k in LIST_ARGS and v.strip()}
    loaded: dict[str, Any] = ARGS.load(asked_for)
    return loaded


@dataclass
class Shown:
    """The page's list, or why it cannot be shown."""

    found: Listing | None
    problem: str | None
    args: dict[str, Any]


def _list(app_id: str) -> Shown:
    s = services()
    args: dict[str, Any] = {}
    try:
        args = list_args(request.args)
        after = Cursor.decode(args["after"]) if "after" in args else None
        audience = audience_of(args)
        asked = ListUsers(app_id, audience, args["sort"], args["order"], PER_PAGE, after)
        with s.engine.connect() as conn:
            found = list_users(conn, asked, s.clock.now(), definitions(conn, app_id), s.indexes)
    except ValidationError as error:
        return Shown(None, explained(error.messages), args)
    except InvalidValue as invalid:  # a cursor that was edited or cut
        return Shown(None, f"{invalid.field}: {invalid.reason}", args)
    return Shown(found, None, args)


@dashboard.get("/apps/<app_id>/users")
def user_list(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    shown = _list(app_id)
    with s.engine.connect() as conn:
        offered = catalogue(conn, app_id)
    picked = preferences(s.store, who.account.email, app_id).columns
    gone = _gone(shown.args, offered)
    filter_text = request.args.get("filter", "").strip()
    q = request.args.get("q", "").strip()
    page = render_template(
        "dashboard/users.html",
        who=who,
        found=shown.found,
        problem=shown.problem,
        columns=COLUMNS,
        custom_columns=picked,
        catalogue=offered,
        offered_columns=_offered_columns(offered, picked),
        sort=shown.args.get("sort", "created_at"),
        order=shown.args.get("order", "desc"),
        filter_text=filter_text,
        q=q,
        narrowed=bool(filter_text or q),
        current_segment=_current(filter_text, "segment"),
        current_tag=_current(filter_text, "tag"),
        sort_url=lambda column: _sort_url(app_id, column, shown.args),
        next_url=_next_url(app_id, shown.found),
        filter_url=lambda kind, value: _filter_url(who, kind, value),
        custom=_custom_value,
        when=lambda seconds: when(seconds, now),
        messages=get_flashed_messages(with_categories=True),
        gone=gone,
    )
    return page, 400 if shown.problem else 200


def _gone(args: dict[str, Any], offered: Catalogue) -> list[str]:
    """The tags and segments the filter names that the app no longer has (they match no
    one: a deleted one's link, bookmarked before)."""
    if "filter" not in args:
        return []
    known = {
        "tag": {t["id"] for t in offered.tags},
        "segment": {s["id"] for s in offered.segments},
    }
    return sorted(
        {
            f"a {c.kind} that was deleted"
            for c in conditions(args["filter"])
            if c.kind in known and c.value not in known[c.kind]
        }
    )


def _offered_columns(offered: Catalogue, picked: list[str]) -> list[str]:
    """Custom keys to offer as columns: those found in the app's data, and those picked."""
    return list(dict.fromkeys([*picked, *offered.custom_keys()]))


def _custom_value(user: dict[str, Any], key: str) -> str:
    value = (user.get("custom_attributes") or {}).get(key)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "—" if value is None else str(value)


def _current(filter_text: str, kind: str) -> str | None:
    """The segment or tag the list is filtered by, when that is all its filter says."""
    if not filter_text.startswith("{"):
        return None
    try:
        data = json.loads(filter_text)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("attribute") == kind and data.get("operator") == "is":
        value = data.get("value")
        return value if isinstance(value, str) else None
    return None


def condition_json(kind: str, value: str) -> str:
    return json.dumps({"attribute": kind, "operator": "is", "value": value})


def _filter_url(who: Teammate, kind: str, value: str) -> str:
    return url_for("dashboard.user_list", app_id=who.app.app_id, filter=condition_json(kind, value))


def _sort_url(app_id: str, column: str, args: dict[str, Any]) -> str:
    """The list sorted by this column: descending first, ascending when already descending."""
    order = "asc" if args.get("sort") == column and args.get("order") == "desc" else "desc"
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("filter", "q")}
    return url_for("dashboard.user_list", app_id=app_id, **kept, sort=column, order=order)


def _next_url(app_id: str, found: Listing | None) -> str | None:
    if found is None or found.next is None:
        return None
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in LIST_ARGS}
    kept.pop("after", None)
    return url_for("dashboard.user_list", app_id=app_id, **kept, after=found.next.encode())
