"""A conversation's whole trail over REST, for auditors: `GET /conversations/<id>/history`,
every event of the conversation and around it from the event store, oldest first
(queries/conversation_trail.py). The dashboard's History tab and its download show the same.

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import Schema, fields

from commands.apps import recent_app
from commands.errors import ConversationNotFound
from queries.conversation_trail import Trail, conversation_trail
from web.api import api
from web.context import services
from web.openapi import answers


class TrailPersonSchema(Schema):
    """Who did something, or whom a notification went to: a `user` or teammate (`admin`),
    by id and name; an email's sender (`email`, by `address`); or Parley itself (`system`)."""

    type = fields.String(required=True, metadata={"enum": ["user", "admin", "email", "system"]})
    id = fields.String(allow_none=True)
    name = fields.String()
    email = fields.String(allow_none=True)
    address = fields.String(metadata={"description": "an inbound email's sender"})
    via = fields.String(allow_none=True, metadata={"description": "the channel it came through"})
    label = fields.String(metadata={"description": "who, in words"})


class TrailEventSchema(Schema):
    """One stored event, with who did it and what it changed (redacted as exports are)."""

    type = fields.Constant("event", required=True)
    position = fields.Integer(required=True, metadata={"description": "in the event log"})
    created_at = fields.Integer(required=True)
    at = fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    name = fields.String(required=True, metadata={"description": "the event's class"})
    aggregate_type = fields.String(required=True)
    aggregate_id = fields.String(required=True)
    version = fields.Integer(required=True)
    actor = fields.Nested(TrailPersonSchema, required=True)
    action = fields.String(required=True)
    summary = fields.String(required=True, metadata={"description": "what happened, in words"})
    to = fields.List(
        fields.Nested(TrailPersonSchema),
        metadata={"description": "a notification's recipients"},
    )
    data = fields.Dict(required=True, metadata={"description": "the event's own fields"})


class ConversationHistorySchema(Schema):
    type = fields.Constant("conversation_history", required=True)
    conversation_id = fields.String(required=True)
    events = fields.List(fields.Nested(TrailEventSchema), required=True)
    total_count = fields.Integer(required=True)


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
@answers(ConversationHistorySchema)
def get_conversation_history(conversation_id: str) -> Any:
    """A conversation's whole trail, for auditors

    Every event of the conversation and around it (the emails it was written by, the
    delivery of the emailed message that opened it), oldest first, from the event store:
    each with its time, who did it (in words too) and its fields."""
    trail = conversation_history(g.app_id, conversation_id)
    return {
        "conversation_id": trail.conversation_id,
        "events": trail.events,
        "total_count": len(trail.events),
    }
