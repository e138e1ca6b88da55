"""What a teammate does from a user's profile: add and remove tags in place, write a note for
the team, unsubscribe the user from bulk email or subscribe them again (the Actions menu;
deleting goes through the list's confirmation page). Each is one command, as the REST API's."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.wrappers import Response

from commands.bulk import SetUnsubscribed, set_unsubscribed
from commands.errors import CommandError
from commands.handling import handle
from commands.notes import WriteNote, write_note
from commands.tags import SaveTag, UserRef, save_tag
from domain.errors import InvalidValue
from projections.tables import tags
from web.api import read_your_writes
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.profile import profile

MAX_NAME = 255


def _profile(app_id: str, user_key: str) -> Response:
    return redirect(url_for("dashboard.profile", app_id=app_id, user_key=user_key) + "#tags")


@dashboard.post("/apps/<app_id>/users/<user_key>/tags")
def add_tag(app_id: str, user_key: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    name = request.form.get("name", "").strip()
    if not name or len(name) > MAX_NAME:
        flash(f"A tag's name has 1 to {MAX_NAME} characters.", "tags-error")
        return _profile(app_id, user_key)
    s = services()
    cmd = SaveTag(app_id, name, users=[UserRef(id=user_key)], by=who.admin["id"])
    try:
        saved = handle(save_tag, cmd, s.store, s.clock)
    except CommandError:
        abort(404)  # no such user in this app
    read_your_writes(saved.position)
    flash(f"Tagged “{saved.name}”.", "tags-ok")
    return _profile(app_id, user_key)


@dashboard.post("/apps/<app_id>/users/<user_key>/tags/<tag_id>/remove")
def remove_user_tag(app_id: str, user_key: str, tag_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    with s.engine.connect() as conn:
        name = conn.execute(
            select(tags.c.name).where(tags.c.app_id == app_id, tags.c.id == tag_id)
        ).scalar()
    if name is None:
        flash("That tag was deleted already.", "tags-error")
        return _profile(app_id, user_key)
    untag = [UserRef(id=user_key, untag=True)]
    cmd = SaveTag(app_id, name, id=tag_id, users=untag, by=who.admin["id"])
    try:
        saved = handle(save_tag, cmd, s.store, s.clock)
    except CommandError:
        abort(404)
    read_your_writes(saved.position)
    flash(f"Took the tag “{name}” off.", "tags-ok")
    return _profile(app_id, user_key)


@dashboard.post("/apps/<app_id>/users/<user_key>/notes")
def add_note(app_id: str, user_key: str) -> ResponseReturnValue:
    """A note by the signed-in teammate; refused, the profile again with what was typed."""
    who = teammate_of(app_id)
    typed = request.form.get("body", "")
    cmd = WriteNote(
        app_id, typed, id=user_key, admin_id=who.admin["id"], markup="text", via="dashboard"
    )
    s = services()
    try:
        written = handle(write_note, cmd, s.store, s.clock)
    except CommandError:
        abort(404)  # no such user in this app
    except InvalidValue as problem:
        return profile(app_id, user_key, note_problem=problem.reason, note_typed=typed), 422
    read_your_writes(written.position)
    flash("Note added.", "notes-ok")
    target = url_for("dashboard.profile", app_id=app_id, user_key=user_key) + "#notes"
    return redirect(target, 303)


@dashboard.post("/apps/<app_id>/users/<user_key>/subscription")
def subscription(app_id: str, user_key: str) -> ResponseReturnValue:
    teammate_of(app_id)
    wanted = request.form.get("unsubscribed")
    if wanted not in ("true", "false"):
        flash("Choose to unsubscribe or resubscribe.", "error")
        return redirect(url_for("dashboard.profile", app_id=app_id, user_key=user_key))
    s = services()
    cmd = SetUnsubscribed(app_id, user_key, wanted == "true")
    try:
        position = handle(set_unsubscribed, cmd, s.store, s.clock)
    except (CommandError, InvalidValue):
        abort(404)
    read_your_writes(position)
    flash(
        "Unsubscribed from bulk email: manual and auto emails skip this user."
        if wanted == "true"
        else "Subscribed to bulk email again.",
        "ok",
    )
    return redirect(url_for("dashboard.profile", app_id=app_id, user_key=user_key))
