"""Tags and segments (seed: "App Settings screen under Tags"): each with how many users it
has, a click opens the user list filtered by it; rename and delete. Deleting asks first,
and a segment another segment uses cannot be deleted (the page says which uses it)."""

from __future__ import annotations

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from commands.errors import CommandError
from commands.handling import handle
from commands.segments import DeleteSegment, SaveSegment, delete_segment, save_segment
from commands.tags import DeleteTag, SaveTag, delete_tag, save_tag
from domain.errors import InvalidValue
from queries.counts import company_counts, user_counts
from queries.segments import list_segments
from queries.tags import app_tags, tag_holders
from web.api import read_your_writes
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import condition_json

MAX_NAME = 255


def _here(app_id: str) -> Response:
    return redirect(url_for("dashboard.tags_and_segments", app_id=app_id))


@dashboard.get("/apps/<app_id>/tags")
def tags_and_segments(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    with s.engine.connect() as conn:
        tag_rows = app_tags(conn, app_id)
        users_per_tag = dict(user_counts(conn, app_id, "tag", now))
        companies_per_tag = dict(company_counts(conn, app_id, "tag", now))
        segment_rows = list_segments(conn, app_id)
        users_per_segment = dict(user_counts(conn, app_id, "segment", now, s.indexes))
    return render_template(
        "dashboard/tags.html",
        who=who,
        tags=[
            {
                "id": r["id"],
                "name": r["name"],
                "users": users_per_tag.get(r["name"], 0),
                "companies": companies_per_tag.get(r["name"], 0),
                "url": _list_url(app_id, "tag", r["id"]),
            }
            for r in tag_rows
        ],
        segments=[
            {
                "id": r["id"],
                "name": r["name"],
                "users": users_per_segment.get(r["name"], 0),
                "url": _list_url(app_id, "segment", r["id"]),
            }
            for r in segment_rows
        ],
        messages=get_flashed_messages(with_categories=True),
    )


def _list_url(app_id: str, kind: str, value: str) -> str:
    return url_for("dashboard.user_list", app_id=app_id, filter=condition_json(kind, value))


def _name() -> str | None:
    name = request.form.get("name", "").strip()
    if not name or len(name) > MAX_NAME:
        flash(f"A name has 1 to {MAX_NAME} characters; nothing was renamed.", "error")
        return None
    return name


@dashboard.post("/apps/<app_id>/tags/<tag_id>")
def rename_tag(app_id: str, tag_id: str) -> ResponseReturnValue:
    teammate_of(app_id)
    name = _name()
    if name is not None:
        s = services()
        try:
            saved = handle(save_tag, SaveTag(app_id, name, id=tag_id), s.store, s.clock)
        except (InvalidValue, CommandError) as error:
            flash(f"The tag was not renamed: {_reason(error)}.", "error")
        else:
            read_your_writes(saved.position)
            flash(f"Renamed the tag to “{saved.name}”.", "ok")
    return _here(app_id)


@dashboard.post("/apps/<app_id>/tags/<tag_id>/delete")
def remove_tag(app_id: str, tag_id: str) -> ResponseReturnValue:
    teammate_of(app_id)
    s = services()
    with s.engine.connect() as conn:
        held = tag_holders(conn, app_id, tag_id)
    if held is None:
        flash("That tag was deleted already.", "error")
        return _here(app_id)
    cmd = DeleteTag(app_id, tag_id, held.user_ids, held.company_ids)
    read_your_writes(delete_tag(cmd, s.store, s.clock))
    flash(f"Deleted the tag “{held.name}” (it came off {len(held.user_ids):,} users).", "ok")
    return _here(app_id)


@dashboard.post("/apps/<app_id>/segments/<segment_id>")
def rename_segment(app_id: str, segment_id: str) -> ResponseReturnValue:
    teammate_of(app_id)
    name = _name()
    if name is not None:
        s = services()
        cmd = SaveSegment(app_id, name, None, id=segment_id)
        try:
            saved = handle(save_segment, cmd, s.store, s.clock)
        except (InvalidValue, CommandError) as error:
            flash(f"The segment was not renamed: {_reason(error)}.", "error")
        else:
            read_your_writes(saved.position)
            flash(f"Renamed the segment to “{name}”.", "ok")
    return _here(app_id)


@dashboard.post("/apps/<app_id>/segments/<segment_id>/delete")
def remove_segment(app_id: str, segment_id: str) -> ResponseReturnValue:
    teammate_of(app_id)
    s = services()
    try:
        position = handle(delete_segment, DeleteSegment(app_id, segment_id), s.store, s.clock)
    except (InvalidValue, CommandError) as error:
        flash(f"The segment was not deleted: {_reason(error)}.", "error")
    else:
        read_your_writes(position)
        flash("Deleted the segment. Its users are untouched.", "ok")
    return _here(app_id)


def _reason(error: Exception) -> str:
    return error.reason if isinstance(error, InvalidValue) else str(error)
