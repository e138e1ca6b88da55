"""The app's settings (issue 14, "Settings"), a few pages with a side menu: installing the
snippet and the incoming email address; secure mode with its secret and `user_hash` examples;
the REST API key; the inbox's style and the default assignee. Teammates are in teammates.py.

Every page reads the app as it stands (`load_app`), not the recent copy `teammate_of` holds,
so what was just saved shows at once in every process. Every form posts to its page: a bad
value renders the page again with the message and 400, nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from string import Template
from typing import Any

from flask import Response, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

import web.dashboard.teammates  # noqa: F401 (the teammates' pages, registered when imported)
from commands.apps import (
    RotateApiKey,
    SetInboxStyle,
    SetSecureMode,
    load_app,
    rotate_api_key,
    set_inbox_style,
    set_secure_mode,
)
from commands.conversations import SetDefaultAssignee, set_default_assignee
from commands.handling import handle
from domain.app import COLOUR, App
from domain.errors import InvalidValue
from web.context import services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.settings_hmac import EXAMPLES
from web.dashboard.settings_page import page

SNIPPET = Path(__file__).resolve().parents[1] / "static" / "snippet.html"
USER_ID_LINE = re.compile(r'^(\s*)(user_id: "9876")( //.*)$', re.MULTILINE)
USER_HASH = (
    '{indent}user_hash: "HMAC-SHA256 of the user_id, made on your server"'
    " // Secure mode: see Settings, Secure mode"
)


def snippet(app: App) -> str:
    """The code to paste, pointing at this server, with `user_hash` in secure mode."""
    base = services().config.base_url.rstrip("/")
    text = Template(SNIPPET.read_text()).substitute(base=base, app_id=app.app_id).strip()
    if app.secure_mode:
        text = USER_ID_LINE.sub(
            lambda m: f"{m[1]}{m[2]},{m[3]}\n" + USER_HASH.format(indent=m[1]), text, count=1
        )
    return text


@dashboard.get("/apps/<app_id>/settings")
def settings(app_id: str) -> ResponseReturnValue:
    """Installation: the snippet and the incoming email address."""
    who = teammate_of(app_id)
    app = load_app(services().store, app_id)
    incoming = services().config.incoming_address(app_id)
    return page("dashboard/settings.html", who, app=app, snippet=snippet(app), incoming=incoming)


@dashboard.route("/apps/<app_id>/settings/security", methods=["GET", "POST"])
def settings_security(app_id: str) -> ResponseReturnValue:
    """Secure mode on (only once the teammate says the snippet sends `user_hash`) or off; the
    secret, shown only when asked for (a POST, so it is never in a URL or a history)."""
    who = teammate_of(app_id)
    if request.method == "GET":
        return page("dashboard/settings_security.html", who, examples=EXAMPLES)
    if request.form.get("action") == "reveal":
        return page("dashboard/settings_security.html", who, examples=EXAMPLES, reveal=True)
    wanted = request.form.get("secure_mode")
    if wanted not in ("on", "off"):
        error = "Choose to turn secure mode on or off."
        return page("dashboard/settings_security.html", who, 400, examples=EXAMPLES, error=error)
    if wanted == "on" and request.form.get("confirm") != "yes":
        error = (
            "Secure mode is still off. Tick the box to confirm that every page's snippet "
            "sends user_hash: without it, their pings are refused."
        )
        return page("dashboard/settings_security.html", who, 400, examples=EXAMPLES, error=error)
    s = services()
    handle(set_secure_mode, SetSecureMode(app_id, wanted == "on"), s.store, s.clock)
    flash(
        "Secure mode is on: pings without a correct user_hash are refused."
        if wanted == "on"
        else "Secure mode is off: pings are accepted without user_hash."
    )
    return redirect(url_for("dashboard.settings_security", app_id=app_id))


@dashboard.route("/apps/<app_id>/settings/api", methods=["GET", "POST"])
def settings_api(app_id: str) -> ResponseReturnValue:
    """The REST API key: only its hash is kept, so a new one is shown once, when made."""
    who = teammate_of(app_id)
    if request.method == "GET":
        # Made by the POST just before (post, redirect, get: reloading the page shows the key
        # no more and never makes another); kept in the signed session for that one request.
        new_key = session.pop("new_api_key", None)
        return page("dashboard/settings_api.html", who, new_key=new_key)
    if request.form.get("confirm") != "yes":
        error = (
            "The key is unchanged. Tick the box to confirm that the current key may stop "
            "working now."
        )
        return page("dashboard/settings_api.html", who, 400, error=error)
    s = services()
    new_key = handle(rotate_api_key, RotateApiKey(app_id, who.admin["id"]), s.store, s.clock)
    session["new_api_key"] = new_key
    return redirect(url_for("dashboard.settings_api", app_id=app_id))


def _inbox_page(
    who: Teammate, status: int = 200, given: Mapping[str, str] | None = None, **more: Any
) -> ResponseReturnValue:
    """The inbox form as saved, or as the teammate filled it in when it was refused."""
    app = load_app(services().store, who.app.app_id)
    form = {
        "style": app.inbox_style,
        "colour": app.inbox_colour,
        "selector": app.inbox_selector or "",
        "count": app.inbox_count,
    }
    if given is not None:
        form["style"] = given.get("style", "")
        form["colour"] = (
            given.get("colour", "")
            if COLOUR.fullmatch(given.get("colour", ""))
            else app.inbox_colour
        )
        form["selector"] = given.get("selector", "")[:200]
        form["count"] = given.get("count") == "yes"
    form["colour"] = _six_digits(str(form["colour"]))
    return page("dashboard/settings_inbox.html", who, status, app=app, form=form, **more)


def _six_digits(colour: str) -> str:
    """`#abc` as `#aabbcc`: the colour picker takes only the long form."""
    if len(colour) == 4:
        return "#" + "".join(c * 2 for c in colour[1:]).lower()
    return colour.lower()


@dashboard.route("/apps/<app_id>/settings/inbox", methods=["GET", "POST"])
def settings_inbox(app_id: str) -> ResponseReturnValue:
    """How the widget shows the inbox on the customer's pages, with a preview."""
    who = teammate_of(app_id)
    if request.method == "GET":
        return _inbox_page(who)
    form = request.form
    style = form.get("style", "")
    advanced = style == "advanced"
    cmd = SetInboxStyle(
        app_id,
        style,
        colour=form.get("colour", "").strip() or None,
        selector=form.get("selector", "")[:1000] if advanced else None,
        count=form.get("count") == "yes" if advanced else True,
    )
    s = services()
    try:
        handle(set_inbox_style, cmd, s.store, s.clock)
    except InvalidValue as invalid:
        error = f"Nothing was saved. {FIELDS.get(invalid.field, invalid.field)}: {invalid.reason}."
        return _inbox_page(who, 400, error=error, given=form)
    flash(f"Saved: the inbox style is now “{style}”.")
    return redirect(url_for("dashboard.settings_inbox", app_id=app_id))


FIELDS = {"style": "Style", "colour": "Colour", "selector": "Selector", "count": "Unread count"}


@dashboard.post("/apps/<app_id>/settings/assignee")
def settings_assignee(app_id: str) -> ResponseReturnValue:
    """Who new conversations from users go to (none: they stay unassigned)."""
    who = teammate_of(app_id)
    chosen = request.form.get("assignee", "")
    cmd = SetDefaultAssignee(app_id, None if chosen == "none" else chosen)
    s = services()
    try:
        handle(set_default_assignee, cmd, s.store, s.clock)
    except InvalidValue:
        error = "Nothing was saved: choose one of the app's teammates, or nobody."
        return _inbox_page(who, 400, assignee_error=error)
    app = load_app(s.store, app_id)
    named = app.admins[app.default_assignee]["name"] if app.default_assignee else None
    flash(
        f"New conversations now go to {named}." if named else "New conversations stay unassigned."
    )
    return redirect(url_for("dashboard.settings_inbox", app_id=app_id))


@dashboard.get("/apps/<app_id>/settings/inbox.css")
def settings_inbox_css(app_id: str) -> ResponseReturnValue:
    """The saved colour for the preview, as a stylesheet: the page's policy allows no inline
    style (settings.js follows the colour picker when scripts run)."""
    teammate_of(app_id)
    colour = load_app(services().store, app_id).inbox_colour  # checked: #rgb or #rrggbb
    return Response(f".inbox-preview {{ --inbox-colour: {colour}; }}\n", mimetype="text/css")
