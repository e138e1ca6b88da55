"""The shared inbox (seed: "How does assignment work?"): Mine, Unassigned and All, each open
or closed, with counts; newest first, what each teammate has not read marked, in keyset
pages; the conversation opens beside the list (web/dashboard/conversation.py). Open
dashboards refresh the list when the app's live stream (web/dashboard/stream.py) says a
conversation changed; the tab's title and the navigation carry the teammate's unread count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Connection, select

from domain.errors import InvalidValue
from projections.conversations import admin_unread
from projections.tables import users
from queries.conversations import Inbox, inbox_rows, view_counts
from web.context import services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import when
from web.live import Feed

VIEWS = {"mine": "Mine", "unassigned": "Unassigned", "all": "All"}
PER_PAGE = 25


class InboxArgs(Schema):
    view = fields.String(load_default="mine", validate=validate.OneOf(list(VIEWS)))
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "closed"]))
    before = fields.String(load_default=None, validate=validate.Length(max=100))


ARGS = InboxArgs()


@dataclass(frozen=True)
class Place:
    """Where in the inbox a teammate is: the view, open or closed, the page's cursor."""

    view: str = "mine"
    state: str = "open"
    before: str | None = None

    def args(self, **changed: Any) -> dict[str, Any]:
        given = {"view": self.view, "state": self.state, "before": self.before, **changed}
        return {k: v for k, v in given.items() if v is not None}


def place_from(args: Any) -> Place:
    """The inbox's place from a URL's arguments; anything unusable means the default."""
    try:
        loaded = ARGS.load({k: args[k] for k in ("view", "state", "before") if k in args})
    except ValidationError:
        return Place()
    return Place(loaded["view"], loaded["state"], loaded["before"])


def feed() -> Feed:
    found: Feed = current_app.extensions["parley_live"]
    return found


def _names(conn: Connection, app_id: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    query = select(users.c.id, users.c.name, users.c.email).where(
        users.c.app_id == app_id, users.c.id.in_(keys)
    )
    return {r.id: {"name": r.name, "email": r.email} for r in conn.execute(query)}


def listing(who: Teammate, place: Place, selected: str | None = None) -> dict[str, Any]:
    """What the list shows: the tabs with their counts, this page's rows, the next page."""
    app_id, me = who.app.app_id, who.admin["id"]
    view = Inbox(
        app_id=app_id, open=place.state == "open", per_page=PER_PAGE, reader=me, answered=True
    )
    view.assignee = me if place.view == "mine" else None
    view.unassigned = place.view == "unassigned"
    view.before = place.before
    s = services()
    now = s.clock.now()
    with s.engine.connect() as conn:
        try:
            rows, _, following = inbox_rows(conn, view, count=False)
        except InvalidValue:  # a cursor that is not one of ours: the first page
            view.before, place = None, Place(place.view, place.state)
            rows, _, following = inbox_rows(conn, view, count=False)
        counts = view_counts(conn, app_id, me)
        names = _names(conn, app_id, [r["user_id"] for r in rows])
    lines = []
    for row in rows:
        person = names.get(row["user_id"], {})
        assignee = who.app.teammate(row["assignee_id"]) if row["assignee_id"] else None
        lines.append(
            {
                "id": row["id"],
                "who": person.get("name") or person.get("email") or "A deleted user",
                "preview": row["preview"] or "",
                "by_team": row["preview_by"] == "admin",
                "unread": admin_unread(row, me),
                "assignee": assignee["name"] if assignee else None,
                "at": when(row["updated_at"], now),
                "selected": row["id"] == selected,
            }
        )
    return {
        "place": place,
        "views": VIEWS,
        "counts": counts,
        "rows": lines,
        "next": place.args(before=following) if following else None,
        "unread": needing_you(counts),
        "list_url": url_for(
            "dashboard.inbox", app_id=app_id, part="list", selected=selected, **place.args()
        ),
    }


def needing_you(counts: dict[str, dict[str, int]]) -> int:
    """The tab's and the navigation's count: your open conversations with what you have not
    read, and the open ones nobody has taken yet."""
    return counts["mine"]["unread"] + counts["unassigned"]["open"]


def live_position() -> int:
    """Where a page's live stream starts: the log position its projections showed."""
    return feed().position()


@dashboard.get("/apps/<app_id>/inbox")
def inbox(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    place = place_from(request.args)
    listed = listing(who, place, request.args.get("selected"))
    if request.headers.get("HX-Request") == "true" and request.args.get("part") == "list":
        return render_template("dashboard/_inbox_list.html", who=who, **listed), {
            "Vary": "HX-Request"
        }
    return render_template(
        "dashboard/inbox.html", who=who, conversation=None, live_after=live_position(), **listed
    ), {"Vary": "HX-Request"}


@dashboard.get("/apps/<app_id>/inbox/unread")
def inbox_badge(app_id: str) -> ResponseReturnValue:
    """The navigation's Inbox link with the teammate's unread count (refreshed live)."""
    who = teammate_of(app_id)
    with services().engine.connect() as conn:
        unread = needing_you(view_counts(conn, app_id, who.admin["id"]))
    current = request.args.get("current") == "1"
    return render_template("dashboard/_inbox_link.html", who=who, unread=unread, current=current)
