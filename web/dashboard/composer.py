"""The composer (seed: "Sending Messages", "Using Variables", "HTML Messages"):
`/apps/<app_id>/messages/new` shows it (GET, from the user list, a profile or a link) and
takes it back (POST): a live preview (htmx, or the Preview button), "Insert data", a test
to the signed-in teammate, and sending, an email only after a confirmation. The message is
made and checked by the REST API's own commands; nothing is saved while a field is wrong."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import Connection, or_, select
from werkzeug.wrappers import Response

from commands.auto_messages import ComposeAutoMessage, compose_auto_message
from commands.email import OFFICIAL_CSS, PERSONAL_CSS
from commands.handling import handle
from commands.mail import MailRefused, transport
from commands.manual_messages import (
    PLACES,
    TestCopy,
    fallback_user,
    preview,
    send_manual,
    send_test,
)
from domain.content import STANDARD_VARIABLES, TAGS
from domain.messages import Message
from domain.user import User
from projections.tables import users
from queries.users import custom_keys, find_user
from web.context import jobs, services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.audience_words import filter_words, names_of
from web.dashboard.blueprint import dashboard
from web.dashboard.composing import FIELDS, Draft, composed, reach, read_draft

PICKS = 20  # users offered by the preview's picker
STANDARD_ORDER = (
    "first_name",
    "last_name",
    "name",
    "email",
    "user_id",
    "company_name",
    "city",
    "country",
)


@dashboard.route("/apps/<app_id>/messages/new", methods=["GET", "POST"])
def composer(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    source = request.form if request.method == "POST" else request.args
    do = source.get("do", "")
    with s.engine.connect() as conn:
        draft = read_draft(conn, app_id, source)
        keys = _app_keys(conn, app_id, fresh=do not in ("", "preview", "insert"))
        if do == "insert":
            draft.body += _variable(source.get("variable", ""), source.get("fallback", ""))
        # Opened just now (from the list or a profile): nothing written yet to refuse.
        message, command = (
            composed(draft, app_id, who.admin["id"], keys, now) if do else (None, None)
        )
        if request.headers.get("HX-Request") and do == "preview":
            shown = _preview(conn, app_id, draft, message)
            reached = (
                reach(conn, app_id, draft.audience, draft.email, now) if draft.audience else None
            )
            return render_template(
                "dashboard/_preview.html", who=who, oob=FIELDS, reach=reached, **shown
            )
        status = None
        if do == "test" and message is not None:
            status = _test(conn, who, draft, message)
        sending = do == "confirm" or (do == "send" and not draft.email)
        if sending and command is not None:
            return _sent(who, command)
        page = _page(conn, who, draft, keys, message, status)
    page["confirming"] = do == "send" and command is not None
    return render_template("dashboard/composer.html", **page), 400 if draft.errors else 200


@dashboard.get("/messages/email-<style>.css")
def email_css(style: str) -> ResponseReturnValue:
    """The email styles' rules, for the preview's sandboxed frame: the dashboard's policy
    refuses the inline styles an email carries, so the frame links them instead."""
    css = {"official": OFFICIAL_CSS, "personal": PERSONAL_CSS}.get(style)
    if css is None:
        abort(404)
    return Response(css, mimetype="text/css")


# The seed's list ("HTML Messages"); the sanitiser (domain/content.py) allows a few more.
SEED_TAGS = frozenset(
    {f"h{n}" for n in range(1, 7)}
    | {"strong", "em", "sub", "sup", "small", "strike"}
    | {"table", "thead", "tbody", "tfoot", "th", "tr", "td", "ol", "ul", "li", "img", "iframe"}
)
KEYS_FOR = 30.0  # seconds a preview may use the app's custom keys as read before
_KEYS: dict[str, tuple[float, set[str]]] = {}


def _app_keys(conn: Connection, app_id: str, *, fresh: bool) -> set[str]:
    """The app's custom keys, which variables may name: read afresh to send or test (as the
    REST API does), reused a moment for previews, which come with every pause in typing and
    would otherwise read every user's keys each time."""
    now = time.monotonic()
    held = _KEYS.get(app_id)
    if fresh or held is None or now - held[0] > KEYS_FOR:
        if len(_KEYS) > 1024:
            _KEYS.clear()
        held = _KEYS[app_id] = (now, custom_keys(conn, app_id))
    return held[1]


def _variable(name: str, fallback: str) -> str:
    """What "Insert data" writes without JavaScript: at the end of the body."""
    if not name:
        return ""
    text = fallback.replace('"', "")
    return f' {{{{ {name} | fallback:"{text}" }}}}' if text else f" {{{{ {name} }}}}"


def _sent(who: Teammate, command: Any) -> Response:
    s = services()
    if isinstance(command, ComposeAutoMessage):
        message = handle(compose_auto_message, command, s.store, s.clock)
        flash("The auto message is live: each user gets it the first time they match.", "ok")
    else:
        message = handle(send_manual, command, s.store, s.clock)
        flash("Sent. Each user's copy is on its way; where each stands is below.", "ok")
    return redirect(
        url_for("dashboard.message", app_id=who.app.app_id, message_id=message.message_id)
    )


def _test(conn: Connection, who: Teammate, draft: Draft, message: Message) -> dict[str, str]:
    s = services()
    app_id = who.app.app_id
    user = _preview_user(conn, app_id, draft) or fallback_user(app_id, s.clock.now())
    to = who.account.email
    copy = TestCopy(message, user, to, s.clock.now())
    try:
        send_test(copy, jobs().preview_email, transport(s.config.smtp_url, s.config.outbox_dir))
    except MailRefused as refused:
        return {"kind": "error", "text": f"The test was not sent: {refused}"}
    if draft.email:
        return {"kind": "ok", "text": f"A test copy went to {to}, as the users will get it."}
    where = PLACES[draft.message_type]
    return {
        "kind": "ok",
        "text": f"Its words went to {to} by email; in the app it shows {where}.",
    }


def _preview_user(conn: Connection, app_id: str, draft: Draft) -> User | None:
    """The user the teammate picked (an email, a user_id or a name's start), or None."""
    wanted = draft.preview_as.strip()
    if not wanted:
        return None
    s = services()
    now = s.clock.now()
    row = find_user(conn, app_id, now=now, email=wanted) or find_user(
        conn, app_id, now=now, user_id=wanted
    )
    key = row["id"] if row else None
    if key is None:
        starting = or_(users.c.name.startswith(wanted), users.c.email.startswith(wanted))
        query = select(users.c.id).where(users.c.app_id == app_id, starting)
        key = conn.execute(query.order_by(users.c.name).limit(1)).scalar()
    return s.store.get_as(User, UUID(hex=key)) if key else None


def _preview(
    conn: Connection, app_id: str, draft: Draft, message: Message | None
) -> dict[str, Any]:
    """The preview pane: the message as this user (or every fallback) would see it."""
    s = services()
    user = _preview_user(conn, app_id, draft)
    shown = None
    if message is not None:
        stand_in = user or fallback_user(app_id, s.clock.now())
        shown = preview(message, stand_in, jobs().preview_email)
        if "body" in shown:
            shown["body"] = Markup(shown["body"])  # sanitised by nh3 (domain/content.py)
    return {
        "draft": draft,
        "shown": shown,
        "as_user": user,
    }


def _picks(conn: Connection, app_id: str, draft: Draft) -> list[str]:
    """Users to offer in the preview's picker: the ticked ones, else the newest."""
    query = select(users.c.email, users.c.name).where(users.c.app_id == app_id)
    if draft.audience is not None and draft.audience.scope == "selected":
        query = query.where(users.c.id.in_(draft.audience.ids))
    found = conn.execute(query.order_by(users.c.created_at.desc()).limit(PICKS)).all()
    return [r.email or r.name for r in found if r.email or r.name]


def _page(
    conn: Connection,
    who: Teammate,
    draft: Draft,
    keys: set[str],
    message: Message | None,
    status: dict[str, str] | None,
) -> dict[str, Any]:
    s = services()
    now = s.clock.now()
    app_id = who.app.app_id
    audience, reached, said = draft.audience, None, None
    if audience is not None:
        reached = reach(conn, app_id, audience, draft.email, now)
        said = filter_words(audience.json, names_of(conn, app_id))
    return {
        "who": who,
        "auto": draft.kind == "auto",
        "draft": draft,
        "reach": reached,
        "conditions": said,
        "variables": [v for v in STANDARD_ORDER if v in STANDARD_VARIABLES],
        "custom_variables": sorted(keys - STANDARD_VARIABLES, key=str.casefold),
        "more_tags": sorted(TAGS - SEED_TAGS),
        "picks": _picks(conn, app_id, draft),
        "status": status,
        **_preview(conn, app_id, draft, message),
    }
