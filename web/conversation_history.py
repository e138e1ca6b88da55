"""A conversation's whole trail over REST, for auditors: `GET /conversations/<id>/history`,
every event of the conversation and around it from the event store, oldest first
(queries/conversation_trail.py). The dashboard's History tab and its download show the same.

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from flask import g, jsonify
from flask.typing import ResponseReturnValue

from commands.apps import recent_app
from commands.errors import ConversationNotFound
from queries.conversation_trail import Trail, conversation_trail
from web.api import api
from web.context import services


def conversation_history(app_id: str, conversation_id: str) -> Trail:
    """The app's conversation's trail, its teammates named (removed ones too);
    ConversationNotFound for another app's conversation or an unknown id."""
    s = services()
    app = recent_app(s.store, app_id)
    with s.engine.connect() as conn:
        trail = conversation_trail(
            s.store,
            conn,
            app_id=app_id,
            conversation_id=conversation_id,
            admins={**app.former_admins, **app.admins},
        )
    if trail is None:
        raise ConversationNotFound(conversation_id)
    return trail


@api.get("/conversations/<conversation_id>/history")
def get_conversation_history(conversation_id: str) -> ResponseReturnValue:
    trail = conversation_history(g.app_id, conversation_id)
    return jsonify(
        {
            "type": "conversation_history",
            "conversation_id": trail.conversation_id,
            "events": trail.events,
            "total_count": len(trail.events),
        }
    )
