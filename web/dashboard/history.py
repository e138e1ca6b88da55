"""A conversation's History tab, for auditors (`/apps/<app_id>/inbox/<id>/history`): every event
of the conversation and around it from the event store, oldest first, with its exact time,
who did it, what happened in words and its fields; downloadable as JSON lines, each line one
event of `GET /conversations/<id>/history`. Reading it records nothing (not even a read mark).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, render_template
from flask.typing import ResponseReturnValue

from commands.errors import ConversationNotFound
from queries.conversation_trail import Trail
from queries.users import find_user
from web.context import services
from web.conversation_history import conversation_history
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard


def _trail(app_id: str, conversation_id: str) -> Trail:
    try:
        return conversation_history(app_id, conversation_id)
    except ConversationNotFound:
        abort(404)


def _fields(entry: dict[str, Any]) -> str:
    """An event's (redacted) fields as the page shows them: indented JSON, as written."""
    return json.dumps(entry["data"], indent=2, ensure_ascii=False, sort_keys=True)


@dashboard.get("/apps/<app_id>/inbox/<conversation_id>/history", endpoint="conversation_history")
def history_page(app_id: str, conversation_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    trail = _trail(app_id, conversation_id)
    s = services()
    with s.engine.connect() as conn:
        user = find_user(conn, app_id, now=s.clock.now(), id=trail.user_key)
    user_name = (user or {}).get("name") or (user or {}).get("email") or "the user"
    return render_template(
        "dashboard/conversation_history.html",
        who=who,
        conversation_id=trail.conversation_id,
        subject=trail.subject,
        user=user,
        user_name=user_name,
        trail=[{**entry, "fields": _fields(entry)} for entry in trail.events],
    )


@dashboard.get(
    "/apps/<app_id>/inbox/<conversation_id>/history.jsonl", endpoint="conversation_history_jsonl"
)
def history_download(app_id: str, conversation_id: str) -> ResponseReturnValue:
    teammate_of(app_id)
    trail = _trail(app_id, conversation_id)
    lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in trail.events)
    name = f"conversation-{trail.conversation_id}-history.jsonl"  # its id as stored
    return Response(
        lines,
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
