"""Conversations over REST, in the Intercom 1.x shape: the inbox (`GET /conversations`), one
conversation with its parts, replies, notes, assignment, closing, read state; users writing
in through `POST /messages`; `GET /admins`.

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from commands.apps import recent_app
from commands.conversations import (
    MarkRead,
    Reply,
    SetNotifications,
    StartConversation,
    admin_by_email,
    check_admin,
    load_conversation,
    mark_read,
    reply,
    set_notifications,
    start_by_user,
)
from commands.handling import handle
from domain.app import NOTIFICATIONS
from domain.content import conversation_html
from domain.conversations import PART_TYPES, Attachment, Conversation
from domain.errors import InvalidValue
from queries.conversations import Inbox, inbox
from web.api import api, before_url, body, named_user, read_your_writes, services
from web.errors import NotFound
from web.inbound import file_url


class UserRef(Schema):
    type = fields.String(required=True, validate=validate.Equal("user"))
    id = fields.String(validate=validate.Length(max=64))
    user_id = fields.String(validate=validate.Length(max=255))
    email = fields.String(validate=validate.Length(max=255))


class UserMessageSchema(Schema):
    """`POST /messages` from a user: `{from: {type: user, id|user_id|email}, body}`."""

    sender = fields.Nested(UserRef, data_key="from", required=True)
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    message_type = fields.String(validate=validate.OneOf(["inapp", "comment"]))


class ReplySchema(Schema):
    """A reply, note, assignment, close or open. An admin is named by `admin_id` or by their
    `email` (as the Intercom 1.x clients' examples do); `conversation_id`, which those clients
    send in the body too, must be the one in the path."""

    type = fields.String(required=True, validate=validate.OneOf(["user", "admin"]))
    message_type = fields.String(required=True, validate=validate.OneOf(PART_TYPES))
    body = fields.String(load_default=None, validate=validate.Length(max=100_000))
    admin_id = fields.String(validate=validate.Length(max=64))
    assignee_id = fields.String(load_default=None, validate=validate.Length(max=64))
    id = fields.String(validate=validate.Length(max=64))
    user_id = fields.String(validate=validate.Length(max=255))
    email = fields.String(validate=validate.Length(max=255))
    conversation_id = fields.String(validate=validate.Length(max=64))

    @validates_schema
    def who(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("type") == "admin" and "admin_id" not in data and "email" not in data:
            raise ValidationError({"admin_id": ["an admin reply names its admin"]})


class ReadSchema(ReplySchema):
    """`{read: true}`: alone, the conversation's user has read it (its `read` field); with
    `type` admin or user, that reader."""

    type = fields.String(load_default=None, validate=validate.OneOf(["user", "admin"]))
    message_type = fields.String(load_default="comment")
    read = fields.Boolean(
        required=True,
        validate=validate.Equal(True, error="only true: a conversation is marked read, not unread"),
    )


class InboxArgs(Schema):
    type = fields.String(validate=validate.OneOf(["admin", "user"]))
    id = fields.String(validate=validate.Length(max=64))
    admin_id = fields.String(validate=validate.Length(max=64))
    user_id = fields.String(validate=validate.Length(max=255))
    email = fields.String(validate=validate.Length(max=255))
    unassigned = fields.Boolean(load_default=False)
    open = fields.Boolean(load_default=None, allow_none=True)
    unread = fields.Boolean(load_default=False)
    before = fields.String(validate=validate.Length(max=100))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


USER_MESSAGE, REPLY, READ, INBOX = UserMessageSchema(), ReplySchema(), ReadSchema(), InboxArgs()


def post_user_message(given: dict[str, Any]) -> ResponseReturnValue:
    """A user writes in (called by `POST /messages` when `from` is a user)."""
    loaded = USER_MESSAGE.load(given)
    s = services()
    who = loaded["sender"]
    user = named_user(who)
    started = StartConversation(g.app_id, user.id.hex, loaded["body"])
    conversation = handle(start_by_user, started, s.store, s.clock)  # the team is told
    read_your_writes(s.store.head())
    return jsonify(
        {
            "type": "user_message",
            "id": conversation.conversation_id,
            "created_at": conversation.created_at,
            "body": conversation_html(loaded["body"]),
            "from": {"type": "user", "id": user.id.hex},
        }
    )


def _author(loaded: dict[str, Any]) -> dict[str, str]:
    s = services()
    if loaded["type"] == "admin":
        if "admin_id" not in loaded:
            return {"type": "admin", "id": admin_by_email(s.store, g.app_id, loaded["email"])}
        return {
            "type": "admin",
            "id": check_admin(s.store, g.app_id, loaded["admin_id"], "admin_id"),
        }
    user = named_user(loaded)
    return {"type": "user", "id": user.id.hex}


def same_conversation(loaded: dict[str, Any], conversation_id: str) -> None:
    given = loaded.get("conversation_id")
    if given is not None and given != conversation_id:
        raise InvalidValue("conversation_id", "must be the conversation in the path")


def _party(author: dict[str, str] | None) -> dict[str, str] | None:
    return None if author is None else {"type": author["type"], "id": author["id"]}


def _part(app_id: str, part: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": part["id"],
        "part_type": part["part_type"],
        "body": conversation_html(part["body"]) if part["body"] else None,
        "created_at": part["at"],
        "updated_at": part["at"],
        "author": _party(part["author"]),
        "assigned_to": _party({"type": "admin", "id": part["assigned_to"]})
        if part["assigned_to"]
        else None,
        "attachments": attachments_out(app_id, part.get("attachments", [])),
    }


def attachments_out(app_id: str, kept: list[Attachment]) -> list[dict[str, Any]]:
    """Intercom's `upload` objects, each with its signed download link."""
    return [
        {
            "type": "upload",
            "name": a["name"],
            "content_type": a["content_type"],
            "filesize": a["size"],
            "url": file_url(app_id, a),
        }
        for a in kept
    ]


def conversation_out(conversation: Conversation, for_user: bool = False) -> dict[str, Any]:
    """The whole conversation for the team; for the user, comments only."""
    parts = conversation.visible_to_user() if for_user else conversation.parts
    found: dict[str, Any] = {
        "type": "conversation",
        "id": conversation.conversation_id,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "user": {"type": "user", "id": conversation.user_key},
        "open": conversation.open,
        "read": not conversation.unread_by_user,
        "conversation_message": {
            "type": "conversation_message",
            "id": conversation.message_id,
            "subject": conversation.subject,
            "via": conversation.via,
            "attachments": attachments_out(conversation.app_id, conversation.attachments),
            "body": conversation.body
            if conversation.markup == "html"
            else conversation_html(conversation.body),
            "author": _party(conversation.author),
        },
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [_part(conversation.app_id, p) for p in parts],
        },
    }
    if not for_user:
        found["assignee"] = _party(
            {"type": "admin", "id": conversation.assignee} if conversation.assignee else None
        )
    return found


@api.get("/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> ResponseReturnValue:
    return jsonify(conversation_out(load_conversation(services().store, g.app_id, conversation_id)))


@api.post("/conversations/<conversation_id>/reply")
def post_reply(conversation_id: str) -> ResponseReturnValue:
    loaded = REPLY.load(body())
    same_conversation(loaded, conversation_id)
    s = services()
    command = Reply(
        g.app_id,
        conversation_id,
        _author(loaded),
        loaded["message_type"],
        body=loaded["body"],
        assignee=loaded["assignee_id"],
    )
    handle(reply, command, s.store, s.clock)
    read_your_writes(s.store.head())  # the inbox list shows it once this answers
    # Emails to the team, or to a user who reads by email, follow (workers/reactions.py).
    conversation = load_conversation(s.store, g.app_id, conversation_id)
    return jsonify(conversation_out(conversation, for_user=loaded["type"] == "user"))


@api.put("/conversations/<conversation_id>")
def put_conversation(conversation_id: str) -> ResponseReturnValue:
    """`{read: true}` as the admin (`admin_id`) or the user (`user_id`, `email` or `id`)."""
    loaded = READ.load(body())
    same_conversation(loaded, conversation_id)
    s = services()
    if loaded["type"] is None:
        found = load_conversation(s.store, g.app_id, conversation_id)
        reader = {"type": "user", "id": found.user_key}
    else:
        reader = _author(loaded)
    conversation = handle(mark_read, MarkRead(g.app_id, conversation_id, reader), s.store, s.clock)
    read_your_writes(s.store.head())
    return jsonify(conversation_out(conversation, for_user=loaded["type"] == "user"))


@api.get("/conversations")
def get_conversations() -> ResponseReturnValue:
    """The inbox: `type=admin&id=` (assigned to that teammate; with `unassigned=true`, to no
    one), `type=user&user_id=|email=|id=` (`unread=true`: with something unread); `open=`;
    newest first, `per_page` at a time; `pages.next` is the next page's URL (its `before=`
    cursor), and `before=` also takes a Unix time (conversations last updated before it)."""
    args = INBOX.load(request.args)
    s = services()
    view = Inbox(app_id=g.app_id, open=args["open"], per_page=args["per_page"])
    if args.get("type") == "admin":
        if args["unassigned"]:
            view.unassigned = True
        else:
            named = args.get("admin_id", args.get("id"))
            view.assignee = check_admin(
                s.store, g.app_id, named, "admin_id" if "admin_id" in args else "id"
            )
        view.reader = args.get("admin_id", args.get("id"))
    elif args.get("type") == "user":
        user = named_user(args)
        view.user_key = user.id.hex
        view.unread_by_user = args["unread"]
    view.before = args.get("before")
    with s.engine.connect() as conn:
        page = inbox(conn, view)
    following = before_url("api.get_conversations", page.next)
    return jsonify(
        {
            "type": "conversation.list",
            "conversations": page.conversations,
            "total_count": page.total,
            "pages": {"type": "pages", "per_page": view.per_page, "next": following},
        }
    )


class AdminSettings(Schema):
    notifications = fields.String(required=True, validate=validate.OneOf(NOTIFICATIONS))


ADMIN_IN = AdminSettings()


@api.put("/admins/<admin_id>")
def put_admin(admin_id: str) -> ResponseReturnValue:
    """A teammate's own settings: `notifications` all | mine | none (emails about users'
    messages: every one, those in conversations assigned to or started by them, or none)."""
    loaded = ADMIN_IN.load(body())
    s = services()
    setting = SetNotifications(g.app_id, admin_id, loaded["notifications"])
    admin = handle(set_notifications, setting, s.store, s.clock)
    return jsonify({"type": "admin", **admin})


@api.get("/admins")
def get_admins() -> ResponseReturnValue:
    admins = recent_app(services().store, g.app_id).admins
    listed = [{"type": "admin", **admin} for admin in admins.values()]
    return jsonify({"type": "admin.list", "admins": listed})


@api.get("/admins/<admin_id>")
def get_admin(admin_id: str) -> ResponseReturnValue:
    admin = recent_app(services().store, g.app_id).admins.get(admin_id)
    if admin is None:
        raise NotFound(f"no admin {admin_id!r}")
    return jsonify({"type": "admin", **admin})
