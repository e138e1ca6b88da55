"""The snippet's side of Parley: widget.js and the endpoints it calls from any origin: the
ping, tracked events, message views and clicks, and the user's inbox (their conversations,
read, replied to and started from the message box)."""

from __future__ import annotations

import gzip
import hashlib
import html
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import nh3
from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from flask_cors import CORS
from marshmallow import Schema, ValidationError, fields, validate

from commands.apps import check_snippet_user, recent_app
from commands.audience_schemas import WidgetClickSchema, WidgetEventSchema, WidgetViewSchema
from commands.conversations import (
    MarkRead,
    Reply,
    StartConversation,
    load_conversation,
    mark_read,
    reply,
    start_by_user,
)
from commands.handling import handle
from commands.schemas import Identifier, PingSchema, refuse_nul
from commands.tracking import track_event
from commands.users import Ping, find_named_user, record_ping
from commands.views import record_click, record_view
from domain.app import App
from domain.conversations import MAX_BODY, Conversation
from domain.showing import Shown
from domain.user import User
from queries.conversations import Inbox, inbox, message_conversation, unread_by_user
from web import context
from web.bootstrap import Services
from web.conversations import (
    ConversationMessageSchema,
    ConversationPartListSchema,
    ConversationPartSchema,
    ConversationSchema,
    conversation_out,
)
from web.errors import RateLimited
from web.json_body import json_object
from web.openapi import Answer, answers

widget = Blueprint("widget", __name__)
CORS(widget, origins="*", methods=["POST", "OPTIONS"], max_age=86400)

# widget.js is served as one file, joined from its modules (web/widget_src) in this order, in
# one function scope: each module's names are the others' too.
WIDGET_SOURCES = ("core", "ui", "popups", "box", "api")
WIDGET_SRC = Path(__file__).parent / "widget_src"


def build_widget_js() -> bytes:
    """The widget library as served: its modules inside one closure, run once per page."""
    parts = [(WIDGET_SRC / f"{name}.js").read_text() for name in WIDGET_SOURCES]
    return (
        "/* Parley widget library: replaces the snippet's queue stub with the real Intercom()"
        ' API. */\n(function (w, d) {\n"use strict";\n'
        "if (w.Intercom && w.Intercom.parley) { return; }\n"
        + "\n".join(parts)
        + "})(window, document);\n"
    ).encode()


WIDGET_JS = build_widget_js()
# Compressed once, when Parley starts: a third of the bytes on the wire for each fresh page.
WIDGET_JS_GZIP = gzip.compress(WIDGET_JS, compresslevel=9, mtime=0)
WIDGET_ETAG = hashlib.sha256(WIDGET_JS).hexdigest()[:20]
# Schemas are stateless once built; building one per request costs more than the load.
PING, EVENT, VIEW = PingSchema(), WidgetEventSchema(), WidgetViewSchema()
CLICK = WidgetClickSchema()


class MessageBoxUser(Schema):
    """Who the message box speaks for: as in the ping, `user_id` wins over `email`, and in
    secure mode `user_hash` must be right."""

    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    user_id = Identifier(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=255))
    user_hash = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=128))


class InboxPage(MessageBoxUser):
    before = fields.String(load_default=None, validate=validate.Length(max=100))


class UserComment(MessageBoxUser):
    body = fields.String(required=True, validate=validate.Length(min=1, max=MAX_BODY))


USER, PAGE, COMMENT = MessageBoxUser(), InboxPage(), UserComment()
PER_PAGE = 20
SNIPPET_LENGTH = 120


# -- what the widget is answered (the schemas dump each answer) ------------------------------


class NamedPartySchema(Schema):
    """A part's author as the user sees it: a teammate by name (never their email), or the
    user."""

    type = fields.String(validate=validate.OneOf(["admin", "user"]))
    id = fields.String()
    name = fields.String(
        allow_none=True, metadata={"description": "teammates only", "optional": True}
    )


class PopupSchema(Schema):
    """An in-app message for the widget to display (one at a time, in order)."""

    type = fields.Constant("message")
    id = fields.String()
    message_type = fields.String(
        validate=validate.OneOf(["conversation", "announcement", "notification"])
    )
    subject = fields.String(allow_none=True)
    body = fields.String(metadata={"description": "sanitised HTML, the user's values filled in"})
    conversation_id = fields.String(allow_none=True, metadata={"description": "what a reply joins"})
    from_ = fields.Nested(NamedPartySchema, data_key="from", attribute="from", allow_none=True)


class InboxSettingSchema(Schema):
    style = fields.String()
    colour = fields.String(allow_none=True)
    selector = fields.String(allow_none=True)
    count = fields.Boolean(allow_none=True)


class PingUserSchema(Schema):
    id = fields.String()


class PingAnswerSchema(Schema):
    type = fields.Constant("ping")
    user = fields.Nested(PingUserSchema)
    messages = fields.List(fields.Nested(PopupSchema))
    inbox = fields.Nested(
        InboxSettingSchema, metadata={"description": "absent: no inbox", "optional": True}
    )
    unread = fields.Integer(
        metadata={"description": "conversations the user has not read", "optional": True}
    )


class Recorded(Schema):
    type = fields.String(validate=validate.OneOf(["event", "view", "click"]))


class UserMessageSchema(ConversationMessageSchema):
    author = fields.Nested(NamedPartySchema, required=True, allow_none=True)


class UserPartSchema(ConversationPartSchema):
    author = fields.Nested(NamedPartySchema, required=True, allow_none=True)


class UserPartListSchema(ConversationPartListSchema):
    conversation_parts = fields.List(fields.Nested(UserPartSchema), required=True)


class UserConversationSchema(ConversationSchema):
    """One of the user's conversations as they see it (comments only, teammates by name),
    with the badge's count."""

    class Meta:
        exclude = ("assignee",)

    conversation_message = fields.Nested(UserMessageSchema, required=True)
    conversation_parts = fields.Nested(UserPartListSchema, required=True)
    unread = fields.Integer(
        required=True, metadata={"description": "the user's unread conversations"}
    )


class ListedSchema(Schema):
    type = fields.Constant("conversation")
    id = fields.String()
    created_at = fields.Integer()
    updated_at = fields.Integer()
    read = fields.Boolean()
    snippet = fields.String(metadata={"description": "the last comment, as one line of text"})
    author = fields.Nested(NamedPartySchema, allow_none=True)


class InboxPagesSchema(Schema):
    type = fields.Constant("pages")
    per_page = fields.Integer()
    next = fields.String(allow_none=True, metadata={"description": "`before` for the next page"})


class UserInboxSchema(Schema):
    type = fields.Constant("conversation.list")
    conversations = fields.List(fields.Nested(ListedSchema))
    total_count = fields.Integer()
    unread = fields.Integer()
    pages = fields.Nested(InboxPagesSchema)


@widget.get("/widget.js")
@answers(media="application/javascript", also={304: None})
def widget_js() -> ResponseReturnValue:
    """The widget library the snippet loads

    Gzip-compressed for browsers that take it, revalidated by ETag once the five minutes of
    caching are over (a 304 while it has not changed)."""
    compressed = request.accept_encodings["gzip"] > 0
    response = Response(WIDGET_JS_GZIP if compressed else WIDGET_JS)
    response.mimetype = "application/javascript"
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(WIDGET_ETAG + ("-gz" if compressed else ""))
    return response.make_conditional(request)


def load_ping(data: dict[str, Any]) -> Ping:
    """Errors name fields as the customer wrote them in intercomSettings (`created_at`)."""
    try:
        loaded: Ping = PING.load(data)
    except ValidationError as error:
        messages = dict(error.messages) if isinstance(error.messages, dict) else {}
        settings = messages.pop("user", {})
        if isinstance(settings, dict):
            messages.update(settings)
        raise ValidationError(messages or error.messages) from None
    return loaded


# What the snippet sends: a ping, an event, a view or a click is small; a message the user
# writes in the box may hold up to 100,000 characters (as JSON, up to 6 bytes each).
SNIPPET_MAX_BYTES = 64 * 1024
WRITING_MAX_BYTES = 1024 * 1024


def snippet_json(limit: int = SNIPPET_MAX_BYTES) -> dict[str, Any]:
    """The snippet's JSON body (sent as text/plain too, so browsers skip the preflight), at most
    `limit` bytes, refused before parsing when larger."""
    return json_object(limit)


@widget.post("/widget/ping")
@answers(PingAnswerSchema, body=PING, errors={401: "secure mode: `user_hash` is wrong"})
def ping() -> Any:
    """Boot or update: who the user is, and what to show them

    `Intercom('boot')` and `Intercom('update')`: the user's settings as in
    `window.intercomSettings`. The answer holds the in-app messages to display and the inbox
    setting. JSON is accepted as text/plain too, so browsers skip the preflight."""
    data = snippet_json()
    refuse_nul({k: v for k, v in data.items() if k != "user"})
    refuse_nul(data.get("user"), "")  # fields named as in intercomSettings
    cmd = replace(
        load_ping(data),
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    services = context.services()
    saved = handle(record_ping, cmd, services.store, services.clock, services.locate)
    app = recent_app(services.store, cmd.app_id)
    answer: dict[str, Any] = {
        "type": "ping",
        "user": {"id": saved.user.id.hex},
        "messages": popups(saved.shown, everyone_who_wrote(app)),
    }
    if app.inbox_style != "none":  # nothing visual, nothing more to look up
        answer["inbox"] = app.inbox()
        with services.engine.connect() as conn:
            answer["unread"] = unread_by_user(conn, app.app_id, saved.user.id.hex)
    return answer


def popups(due: tuple[Shown, ...], admins: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The popups for the widget to display one at a time, in order, each with the teammate it
    is from (for their name and initials) and the conversation a reply joins. Inbox messages
    only land in the user's inbox."""
    return [
        {
            **s.content,
            "conversation_id": s.conversation_id,
            "from": named({"type": "admin", "id": s.message.admin_id}, admins),
        }
        for s in due
        if s.message.message_type != "inbox"
    ]


@widget.post("/widget/events")
@answers(Recorded, status=202, body=EVENT, errors={401: "secure mode: `user_hash` is wrong"})
def track() -> Any:
    """Track an event the booted user did

    `Intercom('trackEvent', name, metadata)`: recorded on the booted user, now."""
    data = snippet_json()
    refuse_nul(data)
    services = context.services()
    handle(track_event, EVENT.load(data), services.store, services.clock, from_snippet=True)
    return Answer({"type": "event"}, 202)


@widget.post("/widget/views")
@answers(Recorded, status=202, body=VIEW, errors={401: "secure mode: `user_hash` is wrong"})
def view() -> Any:
    """An in-app message was displayed to the booted user

    The user has thereby read the conversation it opened (the badge does not count what they
    just saw)."""
    data = snippet_json()
    services = context.services()
    seen = VIEW.load(data)
    user = handle(record_view, seen, services.store, services.clock)
    services.runner.wait_for(services.store.head(), timeout=1.0)  # the ping opened it just now
    with services.engine.connect() as conn:
        opened = message_conversation(conn, seen.app_id, user.id.hex, seen.message_id)
    if opened is not None:
        reader = {"type": "user", "id": user.id.hex}
        handle(mark_read, MarkRead(seen.app_id, opened, reader), services.store, services.clock)
    return Answer({"type": "view"}, 202)


@widget.post("/widget/clicks")
@answers(Recorded, status=202, body=CLICK, errors={401: "secure mode: `user_hash` is wrong"})
def click() -> Any:
    """A link in an in-app message was followed by the booted user

    Counted in the message's click statistics."""
    data = snippet_json()
    services = context.services()
    handle(record_click, CLICK.load(data), services.store, services.clock)
    return Answer({"type": "click"}, 202)


# -- the message box: the user's own conversations ------------------------------------------


def snippet_user(
    schema: Schema, limit: int = SNIPPET_MAX_BYTES
) -> tuple[Services, User, dict[str, Any]]:
    """The booted user and what they sent; in secure mode a wrong `user_hash` is refused
    before anything is looked up, so it reveals nothing."""
    data = snippet_json(limit)
    refuse_nul(data)
    loaded: dict[str, Any] = schema.load(data)
    services = context.services()
    app_id, user_id, email = loaded["app_id"], loaded["user_id"], loaded["email"]
    check_snippet_user(services.store, app_id, user_id, email, loaded["user_hash"])
    return services, find_named_user(services.store, app_id, user_id=user_id, email=email), loaded


def text_of(body: str, markup: str) -> str:
    """A one-line plain-text snippet of a part (the widget shows it as text)."""
    text = html.unescape(nh3.clean(body, tags=set())) if markup == "html" else body
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= SNIPPET_LENGTH else text[: SNIPPET_LENGTH - 1].rstrip() + "\u2026"


def listed(
    conversation: Conversation, read: bool, admins: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """One line of the user's list: its last comment (else the opening message) as a snippet."""
    comments = conversation.visible_to_user()
    if comments:
        last = comments[-1]
        snippet, author = text_of(last["body"] or "", "text"), last["author"]
    else:
        snippet = text_of(conversation.body, conversation.markup)
        author = conversation.author
    return {
        "type": "conversation",
        "id": conversation.conversation_id,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "read": read,
        "snippet": snippet,
        "author": named(author, admins),
    }


def everyone_who_wrote(app: App) -> dict[str, dict[str, str]]:
    """The app's teammates by id, removed ones too: their past replies keep their names."""
    return {**app.former_admins, **app.admins}


def named(
    author: dict[str, str] | None, admins: dict[str, dict[str, str]]
) -> dict[str, Any] | None:
    """A part's author as the user sees it: teammates by name (never their email)."""
    if author is None:
        return None
    if author["type"] == "admin":
        return {
            "type": "admin",
            "id": author["id"],
            "name": admins.get(author["id"], {}).get("name"),
        }
    return {"type": "user", "id": author["id"]}


def for_user(services: Services, conversation: Conversation) -> dict[str, Any]:
    """The conversation as its user sees it (comments only), teammates named, with the
    badge's count."""
    admins = everyone_who_wrote(recent_app(services.store, conversation.app_id))
    found = conversation_out(conversation, for_user=True)
    found["conversation_message"]["author"] = named(conversation.author, admins)
    for part in found["conversation_parts"]["conversation_parts"]:
        part["author"] = named(part["author"], admins)
    # The user's list after this must show what they just did: wait for the projections a
    # little (not long: the answer counts this conversation as saved, not as projected).
    services.runner.wait_for(services.store.head(), timeout=2.0)
    with services.engine.connect() as conn:
        others = unread_by_user(
            conn, conversation.app_id, conversation.user_key, conversation.conversation_id
        )
    found["unread"] = others + (1 if conversation.unread_by_user else 0)
    return found


@widget.post("/widget/inbox")
@answers(UserInboxSchema, body=PAGE, errors={401: "secure mode: `user_hash` is wrong"})
def user_inbox() -> Any:
    """The booted user's conversations, newest first

    Twenty at a time; then `before` from `pages.next`."""
    services, user, loaded = snippet_user(PAGE)
    view = Inbox(app_id=user.app_id, user_key=user.id.hex, per_page=PER_PAGE)
    view.before = loaded["before"]
    with services.engine.connect() as conn:
        page = inbox(conn, view)
        unread = unread_by_user(conn, user.app_id, user.id.hex)
    admins = everyone_who_wrote(recent_app(services.store, user.app_id))
    conversations = []
    for row in page.conversations:
        found = services.store.get_as(Conversation, UUID(hex=row["id"]))
        if found is not None:
            conversations.append(listed(found, not found.unread_by_user, admins))
    return {
        "conversations": conversations,
        "total_count": page.total,
        "unread": unread,
        "pages": {"per_page": PER_PAGE, "next": page.next},
    }


@widget.post("/widget/conversations")
@answers(UserConversationSchema, body=COMMENT, errors={401: "secure mode: `user_hash` is wrong"})
def user_writes_in() -> Any:
    """The booted user starts a conversation from the message box

    The team hears of it by email. At most WIDGET_CONVERSATIONS_PER_HOUR a user (429 past it)."""
    services, user, loaded = snippet_user(COMMENT, WRITING_MAX_BYTES)
    standing = current_app.extensions["parley_rate_limits"].conversation(user.app_id, user.id.hex)
    if not standing.allowed:
        raise RateLimited(
            f"at most {standing.limit} new conversations an hour; reply in an open one",
            standing.headers,
            standing.reset - int(time.time()),
        )
    started = StartConversation(user.app_id, user.id.hex, loaded["body"], via="widget")
    conversation = handle(start_by_user, started, services.store, services.clock)
    return for_user(services, conversation)


@widget.post("/widget/conversations/<conversation_id>/read")
@answers(UserConversationSchema, body=USER, errors={401: "secure mode: `user_hash` is wrong"})
def user_reads(conversation_id: str) -> Any:
    """Open one of the booted user's conversations

    Comments only, now marked read by them."""
    services, user, _ = snippet_user(USER)
    reader = {"type": "user", "id": user.id.hex}
    read = MarkRead(user.app_id, conversation_id, reader)
    conversation = handle(mark_read, read, services.store, services.clock)
    return for_user(services, conversation)


@widget.post("/widget/conversations/<conversation_id>/reply")
@answers(UserConversationSchema, body=COMMENT, errors={401: "secure mode: `user_hash` is wrong"})
def user_replies(conversation_id: str) -> Any:
    """The booted user replies in one of their conversations

    The team hears of it by email."""
    services, user, loaded = snippet_user(COMMENT, WRITING_MAX_BYTES)
    author = {"type": "user", "id": user.id.hex}
    comment = Reply(user.app_id, conversation_id, author, "comment", loaded["body"], via="widget")
    handle(reply, comment, services.store, services.clock)
    conversation = load_conversation(services.store, user.app_id, conversation_id)
    return for_user(services, conversation)
