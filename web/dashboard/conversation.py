"""A conversation, read by the team (`/apps/<app_id>/inbox/<id>`, where a user's activity
links to): the opening message, then every comment, private note, assignment, closing and
reopening in time order, with attachments as download links, and who the user is beside it.
Replying, reassigning and the live inbox around it come with the dashboard's second part;
until then teammates answer by email or the REST API."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from commands.conversations import load_conversation
from commands.errors import ConversationNotFound
from domain.app import App
from domain.content import conversation_html, sanitise
from domain.conversations import Conversation
from queries.users import find_user
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import when
from web.inbound import file_url


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


@dashboard.get("/apps/<app_id>/inbox/<conversation_id>")
def conversation(app_id: str, conversation_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    try:
        found = load_conversation(s.store, app_id, conversation_id)
    except ConversationNotFound:
        abort(404)
    now = s.clock.now()
    with s.engine.connect() as conn:
        user = find_user(conn, app_id, now=now, id=found.user_key)
    user_name = (user or {}).get("name") or (user or {}).get("email") or "The user"
    assignee = who.app.teammate(found.assignee) if found.assignee else None
    return render_template(
        "dashboard/conversation.html",
        who=who,
        conversation=found,
        user=user,
        user_name=user_name,
        assignee=assignee,
        lines=thread(found, who.app, user_name),
        when=lambda seconds: when(seconds, now),
    )
