"""What the user list does to many users at once (seed: "Tags": "select the users, or every
user matching a filter, and tag them"): tag, untag, export CSV, delete (after a confirmation
naming how many); saving the list's filter as a segment; the columns a teammate picks.

The users are those ticked on the page, checked to be this app's, or "all N matching" the
list's filter and search, found again when the action runs. Every change goes through the
same commands as the REST API's.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from commands.bulk import DeleteUsers, delete_users
from commands.handling import handle
from commands.preferences import PickColumns, pick_columns
from commands.segments import SaveSegment, save_segment
from commands.tags import SaveTag, TagUsers, save_tag, tag_users, untag_users
from domain.errors import InvalidValue
from domain.filters import EVERYONE
from projections.tables import tags, users
from queries.audience.choice import ListUsers
from queries.audience.sql import matching_ids
from queries.segments import definitions
from web.api import read_your_writes
from web.audience import csv_export
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import audience_of, condition_json, list_args
from web.errors import explained

MAX_TICKED = 1000  # users ticked one by one in one request (a page shows 50)
MAX_NAME = 255


def _kept() -> dict[str, Any]:
    """The list's own arguments, to go back to the same list."""
    return {k: v for k, v in request.form.items() if k in ("filter", "q", "sort", "order") and v}


def _back(app_id: str, **more: Any) -> Response:
    return redirect(url_for("dashboard.user_list", app_id=app_id, **{**_kept(), **more}))


def _targets(app_id: str, args: dict[str, Any]) -> list[str]:
    """The users an action is for: ticked ones that are this app's, or all matching."""
    s = services()
    with s.engine.connect() as conn:
        if request.form.get("scope") == "all":
            lookup = definitions(conn, app_id)
            return matching_ids(conn, app_id, audience_of(args), s.clock.now(), lookup)
        ticked = list(dict.fromkeys(request.form.getlist("ids")))[:MAX_TICKED]
        if not ticked:
            return []
        mine = select(users.c.id).where(users.c.app_id == app_id, users.c.id.in_(ticked))
        return list(conn.execute(mine).scalars())


def _count(n: int) -> str:
    return f"{n:,} user{'' if n == 1 else 's'}"


@dashboard.post("/apps/<app_id>/users/bulk")
def bulk(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    action = request.form.get("action", "")
    try:
        args = list_args(request.form)
    except ValidationError as error:
        flash(f"Nothing was done: {explained(error.messages)}.", "error")
        return _back(app_id)
    if action == "export":
        return _export(app_id, args)
    ids = _targets(app_id, args)
    if not ids:
        flash("Tick the users to act on first, or choose all users matching.", "error")
        return _back(app_id)
    if action == "delete":
        everyone = request.form.get("scope") == "all"
        back = request.form.get("back", "")
        profile = f"/apps/{app_id}/users/"
        return render_template(
            "dashboard/confirm_delete.html",
            who=who,
            back=back if back.startswith(profile) and "//" not in back else None,
            count=len(ids),
            ids=[] if everyone else ids,
            scope="all" if everyone else "selected",
            kept=_kept(),
            everyone=everyone and audience_of(args) == EVERYONE,
        )
    if action in ("tag", "untag"):
        return _tagging(app_id, action, ids, who.admin["id"])
    flash("Choose what to do with these users.", "error")
    return _back(app_id)


def _tagging(app_id: str, action: str, ids: list[str], by: str) -> Response:
    name = request.form.get("tag", "").strip()
    if not name or len(name) > MAX_NAME:
        flash(f"Give the tag's name (1 to {MAX_NAME} characters).", "error")
        return _back(app_id)
    s = services()
    if action == "tag":
        saved = handle(save_tag, SaveTag(app_id, name), s.store, s.clock)
        tag_id, tag_name = saved.id, saved.name
        every = TagUsers(app_id, tag_id, ids, by=by)
        position = max(saved.position, tag_users(every, s.store, s.clock))
        read_your_writes(position)
        flash(f"Tagged {_count(len(ids))} “{tag_name}”.", "ok")
        return _back(app_id)
    with s.engine.connect() as conn:
        found = conn.execute(
            select(tags.c.id, tags.c.name).where(tags.c.app_id == app_id, tags.c.name == name)
        ).first()
    if found is None:
        flash(f"No tag is named “{name}”, so nothing was untagged.", "error")
        return _back(app_id)
    read_your_writes(untag_users(TagUsers(app_id, found.id, ids, by=by), s.store, s.clock))
    flash(f"Took the tag “{found.name}” off {_count(len(ids))}.", "ok")
    return _back(app_id)


def _export(app_id: str, args: dict[str, Any]) -> ResponseReturnValue:
    sort, order = args.get("sort", "created_at"), args.get("order", "desc")
    if request.form.get("scope") == "all":
        return csv_export(ListUsers(app_id, audience_of(args), sort, order))
    ids = _targets(app_id, args)
    if not ids:
        flash("Tick the users to export first, or choose all users matching.", "error")
        return _back(app_id)
    among = users.c.id.in_(ids)
    return csv_export(ListUsers(app_id, EVERYONE, sort, order, among=among))


@dashboard.post("/apps/<app_id>/users/delete")
def delete_confirmed(app_id: str) -> ResponseReturnValue:
    teammate_of(app_id)
    try:
        args = list_args(request.form)
    except ValidationError as error:
        flash(f"Nothing was deleted: {explained(error.messages)}.", "error")
        return _back(app_id)
    ids = _targets(app_id, args)
    s = services()
    read_your_writes(delete_users(DeleteUsers(app_id, ids), s.store, s.clock))
    flash(f"Deleted {_count(len(ids))}. Their history stays in the event log.", "ok")
    return _back(app_id)


@dashboard.post("/apps/<app_id>/segments")
def save_as_segment(app_id: str) -> ResponseReturnValue:
    """The list's filter (and search) saved as a segment; then the list shows the segment."""
    teammate_of(app_id)
    name = request.form.get("name", "").strip()
    try:
        args = list_args(request.form)
        audience = audience_of(args)
        if audience == EVERYONE:
            raise InvalidValue("filter", "filter the list first: a segment needs a condition")
        if not name or len(name) > MAX_NAME:
            raise InvalidValue("name", f"give the segment a name (1 to {MAX_NAME} characters)")
        s = services()
        saved = handle(save_segment, SaveSegment(app_id, name, audience), s.store, s.clock)
    except ValidationError as error:
        flash(f"The segment was not saved: {explained(error.messages)}.", "error")
        return _back(app_id)
    except InvalidValue as invalid:
        flash(f"The segment was not saved: {invalid.reason}.", "error")
        return _back(app_id)
    read_your_writes(saved.position)
    flash(f"Saved the segment “{name}”.", "ok")
    kept: dict[str, Any] = {k: v for k, v in _kept().items() if k in ("sort", "order")}
    segment = condition_json("segment", saved.id)
    return redirect(url_for("dashboard.user_list", app_id=app_id, filter=segment, **kept))


@dashboard.post("/apps/<app_id>/users/columns")
def choose_columns(app_id: str) -> ResponseReturnValue:
    """The custom attributes this teammate's list shows (theirs only, remembered)."""
    who = teammate_of(app_id)
    s = services()
    keys = request.form.getlist("columns")
    try:
        handle(pick_columns, PickColumns(who.account.email, app_id, keys), s.store, s.clock)
    except InvalidValue as invalid:
        flash(f"The columns were not changed: {invalid.reason}.", "error")
    return _back(app_id)
