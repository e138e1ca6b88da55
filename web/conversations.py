"""Conversations over REST, in the Intercom 1.x shape: the inbox (`GET /conversations`), one
conversation with its parts, replies, notes, assignment, closing, read state; users writing
in through `POST /messages`; `GET /admins`.

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from typing import Any

from flask import g
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
from domain.conversations import CHANNELS, PART_TYPES, Attachment, Conversation
from domain.errors import InvalidValue
from queries.conversations import Inbox, inbox
from web.api import api, before_url, named_user, read_your_writes, services
from web.errors import NotFound
from web.inbound import file_url
from web.openapi import answers, asked, given
from web.schemas import AdminRefSchema, CursorPagesSchema, ListOf, UserRefOutSchema


class SenderRef(Schema):
    type = fields.String(required=True, validate=validate.Equal("user"))
    id = fields.String(validate=validate.Length(max=64))
    user_id = fields.String(validate=validate.Length(max=255))
    email = fields.String(validate=validate.Length(max=255))


class UserMessageInSchema(Schema):
    """`POST /messages` from a user: `{from: {type: user, id|user_id|email}, body}`."""

    sender = fields.Nested(SenderRef, data_key="from", required=True)
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    message_type = fields.String(validate=validate.OneOf(["inapp", "comment"]))


class ReplySchema(Schema):
    """A reply, note, assignment, close or open. An admin is named by `admin_id` or by their
    `email` (as the Intercom 1.x clients' examples do); `conversation_id`, which those clients
    send in the body too, must be the one in the path."""

    type = fields.String(
        required=True,
        validate=validate.OneOf(["user", "admin"]),
        metadata={"description": "who writes: a teammate (`admin`) or the user"},
    )
    message_type = fields.String(
        required=True,
        validate=validate.OneOf(PART_TYPES),
        metadata={"description": "a user only comments"},
    )
    body = fields.String(
        load_default=None,
        validate=validate.Length(max=100_000),
        metadata={"description": "the text (a comment's or note's, required for them)"},
    )
    admin_id = fields.String(
        validate=validate.Length(max=64), metadata={"description": "`type: admin`: who writes"}
    )
    assignee_id = fields.String(
        load_default=None,
        validate=validate.Length(max=64),
        metadata={"description": "an assignment's teammate (absent: unassigned)"},
    )
    id = fields.String(
        validate=validate.Length(max=64), metadata={"description": "`type: user`: Parley's id"}
    )
    user_id = fields.String(
        validate=validate.Length(max=255), metadata={"description": "`type: user`: yours"}
    )
    email = fields.String(
        validate=validate.Length(max=255),
        metadata={"description": "the user's email, or (`type: admin`) the teammate's"},
    )
    conversation_id = fields.String(
        validate=validate.Length(max=64), metadata={"description": "if sent, the path's"}
    )

    @validates_schema
    def who(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("type") == "admin" and "admin_id" not in data and "email" not in data:
            raise ValidationError({"admin_id": ["an admin reply names its admin"]})


class ReadSchema(ReplySchema):
    """`{read: true}`: alone, the conversation's user has read it (its `read` field); with
    `type` admin or user, that reader."""

    type = fields.String(
        load_default=None,
        validate=validate.OneOf(["user", "admin"]),
        metadata={"description": "who read it (absent: the conversation's user)"},
    )
    message_type = fields.String(load_default="comment", metadata={"description": "ignored"})
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


USER_MESSAGE, REPLY, READ, INBOX = UserMessageInSchema(), ReplySchema(), ReadSchema(), InboxArgs()

# -- what the routes answer: the conversation and its parts, the inbox, admins -----------------


class AuthorSchema(Schema):
    """Who wrote a message or part: a teammate (`admin`, by id) or the user."""

    type = fields.String(required=True, metadata={"enum": ["admin", "user"]})
    id = fields.String(required=True)


class UploadSchema(Schema):
    """An attachment; `url` is its signed download link."""

    type = fields.Constant("upload", required=True)
    name = fields.String(required=True)
    content_type = fields.String(required=True)
    filesize = fields.Integer(required=True, metadata={"description": "bytes"})
    url = fields.String(required=True)


class ConversationPartSchema(Schema):
    type = fields.Constant("conversation_part", required=True)
    id = fields.String(required=True)
    part_type = fields.String(required=True, metadata={"enum": list(PART_TYPES)})
    body = fields.String(required=True, allow_none=True, metadata={"description": "HTML"})
    created_at = fields.Integer(required=True)
    updated_at = fields.Integer(required=True)
    author = fields.Nested(AuthorSchema, required=True, allow_none=True)
    assigned_to = fields.Nested(
        AdminRefSchema,
        required=True,
        allow_none=True,
        metadata={"description": "an assignment's teammate (null: unassigned, or no assignment)"},
    )
    attachments = fields.List(fields.Nested(UploadSchema), required=True)


class ConversationPartListSchema(Schema):
    type = fields.Constant("conversation_part.list", required=True)
    conversation_parts = fields.List(fields.Nested(ConversationPartSchema), required=True)


class ConversationMessageSchema(Schema):
    """The message that opened the conversation (the user's, or a teammate's message)."""

    type = fields.Constant("conversation_message", required=True)
    id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the app's message it was (null: the user wrote in)"},
    )
    subject = fields.String(required=True, allow_none=True)
    via = fields.String(required=True, allow_none=True, metadata={"enum": [*CHANNELS, None]})
    attachments = fields.List(fields.Nested(UploadSchema), required=True)
    body = fields.String(required=True, metadata={"description": "HTML"})
    author = fields.Nested(AuthorSchema, required=True, allow_none=True)


class ConversationSchema(Schema):
    """One conversation with its parts. To the team: every part, and `assignee`; answering
    a user's reply or read (`type: user`): comments only, without `assignee`."""

    type = fields.Constant("conversation", required=True)
    id = fields.String(required=True)
    created_at = fields.Integer(required=True)
    updated_at = fields.Integer(required=True)
    user = fields.Nested(UserRefOutSchema, required=True)
    open = fields.Boolean(required=True)
    read = fields.Boolean(required=True, metadata={"description": "the user has read it all"})
    conversation_message = fields.Nested(ConversationMessageSchema, required=True)
    conversation_parts = fields.Nested(ConversationPartListSchema, required=True)
    assignee = fields.Nested(
        AdminRefSchema, allow_none=True, metadata={"description": "absent in a user's view"}
    )


class ConversationListedSchema(Schema):
    """A conversation as the inbox lists it: without its parts, `parts` counts them."""

    type = fields.Constant("conversation", required=True)
    id = fields.String(required=True)
    created_at = fields.Integer(required=True)
    updated_at = fields.Integer(required=True)
    user = fields.Nested(UserRefOutSchema, required=True)
    assignee = fields.Nested(AdminRefSchema, required=True, allow_none=True)
    open = fields.Boolean(required=True)
    read = fields.Boolean(
        required=True,
        metadata={"description": "a teammate's inbox (`type=admin`): theirs; else the user's"},
    )
    parts = fields.Integer(required=True)


class ConversationListSchema(Schema):
    type = fields.Constant("conversation.list", required=True)
    conversations = fields.List(fields.Nested(ConversationListedSchema), required=True)
    total_count = fields.Integer(required=True)
    pages = fields.Nested(CursorPagesSchema, required=True)


class AdminSchema(Schema):
    type = fields.Constant("admin", required=True)
    id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    notifications = fields.String(
        metadata={"enum": list(NOTIFICATIONS), "description": "absent: never set (`mine`)"}
    )


class AdminListSchema(ListOf):
    plural = "admins"
    type = fields.Constant("admin.list", required=True)
    admins = fields.List(fields.Nested(AdminSchema), required=True)


CONVERSATION = ConversationSchema()


def post_user_message(raw: dict[str, Any]) -> dict[str, Any]:
    """A user writes in (`POST /messages` when `from` is a user, web/messages.py): the
    `user_message` answered, as data for that route's schema to dump."""
    loaded = USER_MESSAGE.load(raw)
    s = services()
    user = named_user(loaded["sender"])
    started = StartConversation(g.app_id, user.id.hex, loaded["body"])
    conversation = handle(start_by_user, started, s.store, s.clock)  # the team is told
    read_your_writes(s.store.head())
    return {
        "type": "user_message",
        "id": conversation.conversation_id,
        "created_at": conversation.created_at,
        "body": conversation_html(loaded["body"]),
        "from": {"type": "user", "id": user.id.hex},
    }


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
@answers(CONVERSATION)
def get_conversation(conversation_id: str) -> Any:
    """One conversation, with all its parts

    Its opening message, then every part (comments, notes, assignments, closing and
    opening), oldest first, each body as HTML and each attachment with a signed link."""
    return conversation_out(load_conversation(services().store, g.app_id, conversation_id))


@api.post("/conversations/<conversation_id>/reply")
@answers(CONVERSATION, body=REPLY)
def post_reply(conversation_id: str) -> Any:
    """Reply to a conversation, or note, assign, close or open it

    One body for both sides, told apart by `type`:

    - `type: admin`, the teammate named by `admin_id` or `email`: `message_type` comment,
      note, assignment (to `assignee_id`; none: unassigned), close or open; `body` is the
      text (required for a comment or note).
    - `type: user`, the user named by `id`, `user_id` or `email`: `message_type` comment
      with a `body`.

    `conversation_id`, if sent, must be the one in the path. Answers the conversation: for a
    user's reply, as the user sees it (comments only, no `assignee`)."""
    loaded = given()
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
    return conversation_out(conversation, for_user=loaded["type"] == "user")


@api.put("/conversations/<conversation_id>")
@answers(CONVERSATION, body=READ)
def put_conversation(conversation_id: str) -> Any:
    """Mark a conversation read

    `{read: true}` alone: the conversation's user has read it (its `read` field). With
    `type: admin` and `admin_id` (or `email`), that teammate has; with `type: user` and
    `id`, `user_id` or `email`, the user has (answered as the user sees it: comments only,
    no `assignee`). `conversation_id`, if sent, must be the one in the path."""
    loaded = given()
    same_conversation(loaded, conversation_id)
    s = services()
    if loaded["type"] is None:
        found = load_conversation(s.store, g.app_id, conversation_id)
        reader = {"type": "user", "id": found.user_key}
    else:
        reader = _author(loaded)
    conversation = handle(mark_read, MarkRead(g.app_id, conversation_id, reader), s.store, s.clock)
    read_your_writes(s.store.head())
    return conversation_out(conversation, for_user=loaded["type"] == "user")


@api.get("/conversations")
@answers(ConversationListSchema, query=INBOX)
def get_conversations() -> Any:
    """The inbox: the app's conversations, newest first

    `type=admin&id=` (or `admin_id=`): those assigned to that teammate, `read` being theirs
    (with `unassigned=true`: assigned to no one); `type=user&user_id=|email=|id=`: that
    user's (`unread=true`: with something unread); `open=` true or false. `per_page` at a
    time; `pages.next` is the next page's URL (its `before=` cursor), and `before=` also takes
    a Unix time (conversations last updated before it)."""
    args = asked()
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
    return {
        "conversations": page.conversations,
        "total_count": page.total,
        "pages": {
            "per_page": view.per_page,
            "next": before_url("api.get_conversations", page.next),
        },
    }


class AdminSettings(Schema):
    notifications = fields.String(required=True, validate=validate.OneOf(NOTIFICATIONS))


ADMIN_IN = AdminSettings()


@api.put("/admins/<admin_id>")
@answers(AdminSchema, body=ADMIN_IN)
def put_admin(admin_id: str) -> Any:
    """Change a teammate's own settings

    `notifications`: which emails about users' messages they get: `all` (every one), `mine`
    (those in conversations assigned to or started by them) or `none`."""
    loaded = given()
    s = services()
    setting = SetNotifications(g.app_id, admin_id, loaded["notifications"])
    return handle(set_notifications, setting, s.store, s.clock)


@api.get("/admins")
@answers(AdminListSchema)
def get_admins() -> Any:
    """The app's teammates

    Each with their id, name, email and how they are told of new conversations; removed
    teammates are not listed."""
    return list(recent_app(services().store, g.app_id).admins.values())


@api.get("/admins/<admin_id>")
@answers(AdminSchema)
def get_admin(admin_id: str) -> Any:
    """One teammate, by id

    The id is the one in `GET /admins`, in a conversation's `assignee` and in its parts'
    `author`."""
    admin = recent_app(services().store, g.app_id).admins.get(admin_id)
    if admin is None:
        raise NotFound(f"no admin {admin_id!r}")
    return admin
