"""A conversation in the inbox (`/apps/<app_id>/inbox/<id>`, beside the list): the opening
message, then every comment, private note, assignment, closing and reopening in time order,
with attachments as download links, and who the user is beside it. The team replies or
writes a note (Markdown), reassigns with an optional note, closes and reopens, through the
same handlers as the REST API (`via` the dashboard); the reactions email the user an answer
when they write by email. Opening it marks it read by this teammate."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from commands.conversations import MarkRead, Reply, load_conversation, mark_read, reply
from commands.errors import ConversationNotFound
from commands.handling import handle
from domain.app import App
from domain.content import conversation_html, sanitise
from domain.conversations import Conversation
from domain.errors import InvalidValue
from queries.users import find_user
from web.context import services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.inbox import Place, listing, live_position, place_from
from web.dashboard.users import when
from web.inbound import file_url

MODES = {"comment": "Reply", "note": "Note"}


def _who(app: App, author: dict[str, str] | None, user_name: str) -> str:
    if author is None:
        return "Parley"
    if author["type"] == "admin":
        found = app.teammate(author["id"])
        return found["name"] if found else "A former teammate"
    return user_name


def _files(app_id: str, kept: list[Any]) -> list[dict[str, Any]]:
    return [{"name": a["name"], "size": a["size"], "url": file_url(app_id, a)} for a in kept]


def thread(conversation: Conversation, app: App, user_name: str) -> list[dict[str, Any]]:
    """The opening message and each part, as the page shows them."""
    opening = (
        sanitise(conversation.body)
        if conversation.markup == "html"
        else conversation_html(conversation.body)
    )
    lines = [
        {
            "kind": "comment",
            "who": _who(app, conversation.author, user_name),
            "by_user": conversation.author is not None and conversation.author["type"] == "user",
            "at": conversation.created_at,
            "body": Markup(opening),  # sanitised by nh3 (domain/content.py)
            "files": _files(conversation.app_id, conversation.attachments),
            "assigned": None,
        }
    ]
    for part in conversation.parts:
        body = conversation_html(part["body"]) if part["body"] else ""
        assigned = app.teammate(part["assigned_to"]) if part["assigned_to"] else None
        lines.append(
            {
                "kind": part["part_type"],
                "who": _who(app, part["author"], user_name),
                "by_user": part["author"]["type"] == "user",
                "at": part["at"],
                "body": Markup(body),  # sanitised by nh3 (domain/content.py)
                "files": _files(conversation.app_id, part.get("attachments", [])),
                "assigned": assigned["name"] if assigned else None,
            }
        )
    return lines


def _found(app_id: str, conversation_id: str) -> Conversation:
    try:
        return load_conversation(services().store, app_id, conversation_id)
    except ConversationNotFound:
        abort(404)


def _read(who: Teammate, found: Conversation) -> Conversation:
    """This teammate has now seen everything in it (a no-op when they had)."""
    reader = {"type": "admin", "id": who.admin["id"]}
    if found.admins_read.get(reader["id"], -1) == len(found.parts):
        return found
    s = services()
    command = MarkRead(who.app.app_id, found.conversation_id, reader)
    read: Conversation = handle(mark_read, command, s.store, s.clock)
    return read


def panel(
    who: Teammate,
    found: Conversation,
    place: Place,
    *,
    problem: InvalidValue | None = None,
    typed: str = "",
    mode: str = "comment",
) -> dict[str, Any]:
    """What the conversation beside the list shows, and its forms (with what went wrong)."""
    s = services()
    now = s.clock.now()
    with s.engine.connect() as conn:
        user = find_user(conn, who.app.app_id, now=now, id=found.user_key)
    user_name = (user or {}).get("name") or (user or {}).get("email") or "The user"
    assignee = who.app.teammate(found.assignee) if found.assignee else None
    return {
        "conversation": found,
        "user": user,
        "user_name": user_name,
        "assignee": assignee,
        "teammates": sorted(who.app.admins.values(), key=lambda a: a["name"].lower()),
        "lines": thread(found, who.app, user_name),
        "place": place,
        "problem": problem,
        "typed": typed,
        "mode": mode if mode in MODES else "comment",
        "modes": MODES,
        "when": lambda seconds: when(seconds, now),
    }


def _page(who: Teammate, place: Place, shown: dict[str, Any]) -> str:
    """The inbox page: the list, this conversation beside it, the live stream's start."""
    listed = listing(who, place, selected=shown["conversation"].conversation_id)
    return render_template(
        "dashboard/inbox.html", who=who, live_after=live_position(), **{**listed, **shown}
    )


@dashboard.get("/apps/<app_id>/inbox/<conversation_id>")
def conversation(app_id: str, conversation_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    found = _read(who, _found(app_id, conversation_id))
    shown = panel(who, found, place_from(request.args))
    if request.headers.get("HX-Request") == "true" and request.args.get("part") == "thread":
        return render_template("dashboard/_thread.html", who=who, **shown), {"Vary": "HX-Request"}
    return _page(who, shown["place"], shown), {"Vary": "HX-Request"}


def _act(
    app_id: str,
    conversation_id: str,
    part_type: str,
    *,
    body: str | None = None,
    assignee: str | None = None,
) -> ResponseReturnValue:
    """Carry out one step as the signed-in teammate; show the conversation again (htmx) or
    go back to it. What was typed comes back with the reason when it is refused."""
    who = teammate_of(app_id)
    found = _found(app_id, conversation_id)
    place = place_from(request.form)
    author = {"type": "admin", "id": who.admin["id"]}
    command = Reply(
        app_id, conversation_id, author, part_type, body=body, assignee=assignee, via="dashboard"
    )
    s = services()
    try:
        handle(reply, command, s.store, s.clock)
    except InvalidValue as problem:
        typed = (body or "") if part_type in MODES else ""
        shown = panel(who, found, place, problem=problem, typed=typed, mode=part_type)
        if request.headers.get("HX-Request") == "true":
            return render_template("dashboard/_conversation.html", who=who, **shown), 422
        return _page(who, place, shown), 422
    if request.headers.get("HX-Request") == "true":
        shown = panel(who, _found(app_id, conversation_id), place)
        return render_template("dashboard/_conversation.html", who=who, **shown)
    target = url_for(
        "dashboard.conversation", app_id=app_id, conversation_id=conversation_id, **place.args()
    )
    return redirect(target, 303)


@dashboard.post("/apps/<app_id>/inbox/<conversation_id>/reply")
def reply_to(app_id: str, conversation_id: str) -> ResponseReturnValue:
    """A reply the user sees, or (`mode=note`) a private note for the team."""
    mode = request.form.get("mode", "comment")
    if mode not in MODES:
        mode = "comment"
    return _act(app_id, conversation_id, mode, body=request.form.get("body", ""))


@dashboard.post("/apps/<app_id>/inbox/<conversation_id>/assign")
def assign(app_id: str, conversation_id: str) -> ResponseReturnValue:
    """Hand the conversation to a teammate, with an optional private note."""
    note = request.form.get("note", "").strip() or None
    assignee = request.form.get("assignee") or None
    return _act(app_id, conversation_id, "assignment", body=note, assignee=assignee)


@dashboard.post("/apps/<app_id>/inbox/<conversation_id>/close")
def close(app_id: str, conversation_id: str) -> ResponseReturnValue:
    return _act(app_id, conversation_id, "close")


@dashboard.post("/apps/<app_id>/inbox/<conversation_id>/reopen")
def reopen(app_id: str, conversation_id: str) -> ResponseReturnValue:
    return _act(app_id, conversation_id, "open")
