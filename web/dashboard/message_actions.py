"""Editing and stopping a message (seed: "Stopping/Editing Messages"): its content gets a
new version (earlier ones stay on its page with their dates); its conditions never change;
stopping asks first. A sent email can be neither. Both go through the REST API's own
handlers (commands/auto_messages.py)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from marshmallow import ValidationError

from commands.auto_messages import EditMessage, StopMessage, edit_message, stop_message
from commands.handling import handle
from commands.manual_messages import fallback_user, preview
from domain.errors import InvalidValue
from domain.messages import Message
from projections.message_list import title_of
from queries.users import custom_keys
from web.context import jobs, services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.composing import DRAFT_IN, Draft, field_of
from web.dashboard.message import found_message, state_of
from web.errors import flatten


def _back(app_id: str, message: Message) -> ResponseReturnValue:
    return redirect(url_for("dashboard.message", app_id=app_id, message_id=message.message_id))


def _closed(who: Teammate, message: Message) -> str | None:
    """Why the message can no longer change, or None."""
    if message.is_sent_email:
        return "This email was sent: an email, once sent, cannot be edited or stopped."
    if state_of(message, services().clock.now()) == "stopped":
        return "This message was stopped: no one else will see it."
    return None


@dashboard.route("/apps/<app_id>/messages/<message_id>/edit", methods=["GET", "POST"])
def edit_message_page(app_id: str, message_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    message = found_message(app_id, message_id)
    closed = _closed(who, message)
    current = message.current
    given = {
        "subject": current["subject"] or "",
        "body": current["body"],
        "markup": current["markup"],
        "template": current["style"] or "personal",
    }
    errors: dict[str, str] = {}
    if request.method == "POST" and closed is None:
        try:
            loaded = DRAFT_IN.load({**request.form, "message_type": message.message_type})
        except ValidationError as error:
            errors = {f.split(".")[0]: r for f, r in flatten(error.messages)}
            loaded = {**given, **{k: v for k, v in request.form.items() if k in given}}
        given = {k: loaded[k] for k in given}
        if request.form.get("do") == "preview" and request.headers.get("HX-Request"):
            return _previewed(who, message, given, errors)
        if not errors and _saved(who, message, given, errors):
            flash("Saved as a new version: users who have not seen it yet get this one.", "ok")
            return _back(app_id, message)
    page = render_template(
        "dashboard/message_edit.html",
        who=who,
        message=message,
        title=title_of(message.current),
        given=given,
        errors=errors,
        closed=closed,
    )
    return page, 400 if errors else 200


def _content(message: Message, given: dict[str, str]) -> dict[str, Any]:
    return {
        "subject": given["subject"].strip() or None,
        "body": given["body"],
        "markup": given["markup"],
        "style": given["template"] if message.message_type == "email" else None,
    }


def _previewed(
    who: Teammate, message: Message, given: dict[str, str], errors: dict[str, str]
) -> ResponseReturnValue:
    """The new version as users would get it (every fallback), or the fields' errors: the
    message is edited in memory, never saved."""
    s = services()
    shown = None
    if not errors:
        content = _content(message, given)
        with s.engine.connect() as conn:
            keys = custom_keys(conn, who.app.app_id)
        try:
            c = content
            message.edit(c["subject"], c["body"], c["markup"], c["style"], keys, s.clock.now())
        except InvalidValue as invalid:
            errors[field_of(invalid.field)] = invalid.reason
        else:
            shown = preview(
                message, fallback_user(who.app.app_id, s.clock.now()), jobs().preview_email
            )
            if "body" in shown:
                shown["body"] = Markup(shown["body"])  # sanitised by nh3 (domain/content.py)
    draft = Draft(
        kind=message.kind,
        message_type=message.message_type,
        subject=given["subject"],
        body=given["body"],
        markup=given["markup"],
        template=given["template"],
        unsubscribe_link=message.with_unsubscribe_link,
        url="",
        stop_at="",
        preview_as="",
        audience=None,
        errors=errors,
    )
    return render_template(
        "dashboard/_preview.html",
        who=who,
        draft=draft,
        shown=shown,
        as_user=None,
        oob=("subject", "body"),
    )


def _saved(who: Teammate, message: Message, given: dict[str, str], errors: dict[str, str]) -> bool:
    s = services()
    content = _content(message, given)
    with s.engine.connect() as conn:
        keys = custom_keys(conn, who.app.app_id)
    try:
        edited = EditMessage(who.app.app_id, message.message_id, content, keys)
        handle(edit_message, edited, s.store, s.clock)
    except InvalidValue as invalid:
        errors[field_of(invalid.field)] = invalid.reason
        return False
    return True


@dashboard.route("/apps/<app_id>/messages/<message_id>/stop", methods=["GET", "POST"])
def stop_message_page(app_id: str, message_id: str) -> ResponseReturnValue:
    """GET asks; POST stops."""
    who = teammate_of(app_id)
    message = found_message(app_id, message_id)
    closed = _closed(who, message)
    if request.method == "POST" and closed is None:
        s = services()
        handle(stop_message, StopMessage(app_id, message.message_id), s.store, s.clock)
        flash("Stopped: it shows to no one else. Those who saw it keep their copy.", "ok")
        return _back(app_id, message)
    return render_template(
        "dashboard/message_stop.html",
        who=who,
        message=message,
        title=title_of(message.current),
        closed=closed,
    ), (409 if closed and request.method == "POST" else 200)
