"""`POST /messages`: a teammate's email or in-app message to one user or to every user a filter
matches now (Intercom 1.x admin-initiated messages); auto messages.

Routes join the `api` blueprint; web/app.py imports this module before registering it. In-app
and inbox messages arrive with conversations; auto messages with their sweep.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import g
from marshmallow import Schema, ValidationError, fields, validate

from commands.apps import recent_app
from commands.audience_schemas import FilterField
from commands.auto_messages import (
    ComposeAutoMessage,
    EditMessage,
    StopMessage,
    compose_auto_message,
    edit_message,
    live_messages,
    stop_message,
)
from commands.errors import MessageNotFound
from commands.handling import handle
from commands.manual_messages import (
    ComposeManual,
    compose_manual,
    fallback_user,
    preview,
    send_manual,
)
from commands.schemas import Timestamp
from domain.filters import EVERYONE, to_json
from domain.messages import Message
from queries.messages import deliveries_of, stats_of
from queries.users import custom_keys
from web.api import api, named_user, services
from web.context import jobs
from web.openapi import Answer, answers, asked, given, raw_body
from web.schemas import AdminRefSchema, ListOf, UserRefOutSchema

TEMPLATES = {"plain": "personal", "personal": "personal", "official": "official"}


class MessagePartySchema(Schema):
    type = fields.String(required=True)
    id = fields.String(validate=validate.Length(max=64))
    user_id = fields.String(validate=validate.Length(max=255))
    email = fields.String(validate=validate.Length(max=255))
    filter = FilterField()


# Intercom 1.x's "inapp" is the conversation popup; the seed's other popups are accepted too.
IN_APP = {"inapp": "conversation", "conversation": "conversation"}
IN_APP |= {"announcement": "announcement", "notification": "notification", "inbox": "inbox"}


class AdminMessageSchema(Schema):
    message_type = fields.String(required=True, validate=validate.OneOf(["email", *IN_APP]))
    subject = fields.String(load_default=None, validate=validate.Length(min=1, max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    template = fields.String(load_default="plain", validate=validate.OneOf(list(TEMPLATES)))
    markup = fields.String(load_default="markdown", validate=validate.OneOf(["markdown", "html"]))
    # An email's unsubscribe link: left out, bulk emails carry one, personal ones do not.
    unsubscribe_link = fields.Boolean(load_default=None, allow_none=True)
    sender = fields.Nested(MessagePartySchema, data_key="from", required=True)
    to: fields.Field = fields.Nested(MessagePartySchema, required=True)


class MessageInSchema(AdminMessageSchema):
    """`POST /messages`: a teammate's message (`from` one of the app's admins) to a user, to
    chosen users (`to` a list of up to 1,000) or to every user a filter matches (`to`
    `{type: users, filter}`); or a user writing in (`from` a user, with `body`), which starts
    a conversation."""

    message_type = fields.String(
        validate=validate.OneOf(["email", *IN_APP, "comment"]),
        metadata={"description": "a teammate's: email or an in-app kind; a user's: inapp"},
    )
    to = fields.Raw(
        metadata={
            "description": "a user, `{type: users, filter}`, or a list of users",
            "oneOf": [
                {"$ref": "#/components/schemas/MessageParty"},
                {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/MessageParty"},
                    "minItems": 1,
                    "maxItems": 1000,
                },
            ],
        }
    )


MESSAGE_IN, ANY_MESSAGE_IN = AdminMessageSchema(), MessageInSchema()


# -- what is answered -----------------------------------------------------------------------


class AdminMessageOutSchema(Schema):
    """A teammate's message, as sent (its counts: `GET /messages/{id}`)."""

    type = fields.Constant("admin_message", required=True)
    id = fields.String(required=True)
    created_at = fields.Integer(required=True)
    message_type = fields.String(required=True)
    subject = fields.String(required=True, allow_none=True)
    body = fields.String(required=True)
    template = fields.String(
        required=True, allow_none=True, metadata={"description": "an email's; null in-app"}
    )
    owner = fields.Nested(AdminRefSchema, required=True)


class UserMessageOutSchema(Schema):
    """A user's message: the conversation it started."""

    type = fields.Constant("user_message", required=True)
    id = fields.String(required=True, metadata={"description": "the conversation's id"})
    created_at = fields.Integer(required=True)
    body = fields.String(required=True, metadata={"description": "as HTML"})
    sender = fields.Nested(UserRefOutSchema, data_key="from", attribute="from", required=True)


class InAppPreviewSchema(Schema):
    """An in-app message as the widget would show it."""

    type = fields.Constant("message_preview", required=True)
    id = fields.String(required=True)
    message_type = fields.String(required=True)
    subject = fields.String(required=True, allow_none=True)
    body = fields.String(required=True, metadata={"description": "as HTML"})
    empty = fields.Boolean(
        required=True, metadata={"description": "it would show nothing: skipped for the user"}
    )


class EmailPreviewSchema(Schema):
    """An email's parts as it would be sent."""

    type = fields.Constant("message_preview", required=True)
    message_type = fields.Constant("email", required=True)
    sender = fields.String(data_key="from", attribute="from", required=True)
    subject = fields.String(required=True)
    html = fields.String(required=True)
    text = fields.String(required=True)


class MessageStatsSchema(Schema):
    """How many users each thing happened to (each user counts once)."""

    sent = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    viewed = fields.Integer(required=True)
    opened = fields.Integer(required=True)
    clicked = fields.Integer(required=True)
    unsubscribed = fields.Integer(required=True)
    replied = fields.Integer(required=True)
    not_shown = fields.Integer(required=True)


class AutoMessageOutSchema(Schema):
    """A message with its current content and counts."""

    type = fields.Constant("auto_message", required=True)
    id = fields.String(required=True)
    message_type = fields.String(required=True)
    subject = fields.String(required=True, allow_none=True)
    body = fields.String(required=True)
    markup = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "1, then one per edit"})
    filter = fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "who it is for; null for a message to chosen users"},
    )
    url = fields.String(
        required=True, allow_none=True, metadata={"description": "pages it shows on (* any)"}
    )
    stop_at = fields.Integer(required=True, allow_none=True)
    stopped_at = fields.Integer(required=True, allow_none=True)
    owner = fields.Nested(AdminRefSchema, required=True)
    stats = fields.Nested(MessageStatsSchema, required=True)


class AutoMessageListSchema(ListOf):
    plural = "auto_messages"
    type = fields.Constant("auto_message.list", required=True)
    auto_messages = fields.List(fields.Nested(AutoMessageOutSchema), required=True)


class MessageOutSchema(AutoMessageOutSchema):
    """Any message of the app: `kind` manual (a teammate's) or auto."""

    type = fields.Constant("message", required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["manual", "auto"]))


class StoppedMessageSchema(AutoMessageOutSchema):
    """The message, stopped (`stopped_at`)."""

    kind = fields.String(required=True, validate=validate.OneOf(["manual", "auto"]))


class MessageDeliverySchema(Schema):
    type = fields.Constant("delivery", required=True)
    id = fields.String(required=True)
    channel = fields.String(required=True)
    user = fields.Nested(UserRefOutSchema, required=True)
    state = fields.String(
        required=True,
        metadata={"description": "claimed, sending, sent, deferred or uncertain"},
    )
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, allow_none=True)
    updated_at = fields.Integer(required=True)


class DeliveryCursorSchema(Schema):
    next = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "`after` for the next page; null on the last"},
    )


class MessageDeliveryListSchema(Schema):
    type = fields.Constant("delivery.list", required=True)
    deliveries = fields.List(fields.Nested(MessageDeliverySchema), required=True)
    pages = fields.Nested(DeliveryCursorSchema, required=True)


def _admin(sender: dict[str, Any]) -> dict[str, Any]:
    """`from` must name one of the app's admins."""
    admins = recent_app(services().store, g.app_id).admins
    if sender["type"] != "admin" or sender.get("id") not in admins:
        raise ValidationError({"from": ["must be one of the app's admins: {type: admin, id}"]})
    return sender


def _manual(
    loaded: dict[str, Any],
    admin_id: str,
    audience: dict[str, Any] | None,
    recipients: list[str] | None,
    custom_keys: set[str],
    at_once: bool = False,
) -> ComposeManual:
    email = loaded["message_type"] == "email"
    return ComposeManual(
        app_id=g.app_id,
        message_type="email" if email else IN_APP[loaded["message_type"]],
        admin_id=admin_id,
        subject=loaded["subject"],
        body=loaded["body"],
        markup=loaded["markup"],
        style=TEMPLATES[loaded["template"]] if email else None,
        custom_keys=custom_keys,
        audience=audience,
        recipients=recipients,
        unsubscribe_link=loaded.get("unsubscribe_link"),
        at_once=at_once,
    )


@api.post("/messages")
@answers((AdminMessageOutSchema, UserMessageOutSchema), body=ANY_MESSAGE_IN)
def post_message() -> Any:
    """Send a teammate's message, or a user's

    `from` an admin: an email or in-app message to one user (`to` `{type: user,
    id|user_id|email}`), to chosen users (`to` a list of them, up to 1,000) or to every user
    a filter matches now (`to` `{type: users, filter}`); answered with the `admin_message`.
    `from` a user: they write in, starting a conversation; answered with the `user_message`."""
    raw = raw_body()
    sender = raw.get("from")
    if isinstance(sender, dict) and sender.get("type") == "user":
        from web.conversations import post_user_message

        return Answer(post_user_message(raw), schema=UserMessageOutSchema)
    chosen = raw.get("to") if isinstance(raw.get("to"), list) else None
    loaded: dict[str, Any] = MESSAGE_IN.load({**raw, "to": {"type": "user"}} if chosen else raw)
    s = services()
    run = (s.store, s.clock)
    sender, to = _admin(loaded["sender"]), loaded["to"]
    if chosen is not None:
        message = _to_chosen(loaded, chosen, sender["id"])
    elif to["type"] == "users":
        audience = to_json(to.get("filter", EVERYONE))
        with s.engine.connect() as conn:
            known = custom_keys(conn, g.app_id)
        # The fan-out follows (workers/reactions.py).
        message = handle(send_manual, _manual(loaded, sender["id"], audience, None, known), *run)
    elif to["type"] == "user":
        user = named_user(to)
        # An email is claimed and sent by the reactions; an in-app copy saved with it.
        cmd = _manual(loaded, sender["id"], None, [user.id.hex], set(user.custom), at_once=True)
        message = handle(send_manual, cmd, *run)
    else:
        raise ValidationError(
            {"to": ["a user {type: user, id|user_id|email} or users {type: users, filter}"]}
        )
    return {
        "id": message.id.hex,
        "created_at": int(s.clock.now().timestamp()),
        "message_type": loaded["message_type"],
        "subject": loaded["subject"],
        "body": loaded["body"],
        "template": loaded["template"] if message.message_type == "email" else None,
        "owner": {"id": sender["id"]},
    }


MAX_CHOSEN = 1000


def _to_chosen(loaded: dict[str, Any], chosen: list[Any], admin_id: str) -> Message:
    """`to` as a list of users (`{type: user, id|user_id|email}`, up to 1,000): the message
    goes to those users, as a teammate's personal message (no unsubscribe link)."""
    if not 1 <= len(chosen) <= MAX_CHOSEN:
        raise ValidationError({"to": [f"between 1 and {MAX_CHOSEN} users"]})
    try:
        parties = MessagePartySchema(many=True).load(chosen)
    except ValidationError as error:
        raise ValidationError({"to": error.messages}) from None
    s = services()
    keys: list[str] = []
    for party in parties:
        if party["type"] != "user":
            raise ValidationError({"to": ["each one a user {type: user, id|user_id|email}"]})
        user = named_user(party)
        if user.id.hex not in keys:
            keys.append(user.id.hex)
    with s.engine.connect() as conn:
        known = custom_keys(conn, g.app_id)
    # The fan-out follows (workers/reactions.py).
    return handle(send_manual, _manual(loaded, admin_id, None, keys, known), s.store, s.clock)


@api.post("/messages/preview")
@answers((InAppPreviewSchema, EmailPreviewSchema), body=MESSAGE_IN)
def preview_message() -> Any:
    """What a teammate's message would show, neither saved nor sent

    What `POST /messages` with the same body would send, rendered by the same code and
    checked by the same rules: to one user, with their values; to a filter's users, with
    every variable's fallback. An in-app message as the widget shows it (`empty`: it would
    show nothing, and is skipped); an email's `from`, `subject`, `html` and `text`."""
    loaded: dict[str, Any] = given()
    s = services()
    sender, to = _admin(loaded["sender"]), loaded["to"]
    if to["type"] == "user":
        user = named_user(to)
        cmd = _manual(loaded, sender["id"], None, [user.id.hex], set(user.custom))
    elif to["type"] == "users":
        user = fallback_user(g.app_id, s.clock.now())
        with s.engine.connect() as conn:
            known = custom_keys(conn, g.app_id)
        cmd = _manual(loaded, sender["id"], to_json(to.get("filter", EVERYONE)), None, known)
    else:
        raise ValidationError(
            {"to": ["a user {type: user, id|user_id|email} or users {type: users, filter}"]}
        )
    message = compose_manual(cmd, s.clock.now())
    shown = preview(message, user, jobs().preview_email)
    if message.message_type == "email":
        return Answer(shown, schema=EmailPreviewSchema)
    return shown


# -- auto messages (not in Intercom's 1.x API, which left them to the dashboard) ------------


class AutoMessageSchema(Schema):
    message_type = fields.String(
        required=True,
        validate=validate.OneOf(["conversation", "announcement", "notification", "inbox", "email"]),
    )
    template = fields.String(load_default="plain", validate=validate.OneOf(list(TEMPLATES)))
    subject = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    markup = fields.String(load_default="markdown", validate=validate.OneOf(["markdown", "html"]))
    sender = fields.Nested(MessagePartySchema, data_key="from", required=True)
    filter = FilterField(required=True)
    url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2048))
    stop_at = Timestamp(load_default=None, allow_none=True)
    unsubscribe_link = fields.Boolean(load_default=None, allow_none=True)


class MessageContentSchema(Schema):
    subject = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    # Left out: the markup of the version it replaces.
    markup = fields.String(load_default=None, validate=validate.OneOf(["markdown", "html"]))


class DeliveryPageArgs(Schema):
    after = fields.String(
        load_default=None,
        validate=validate.Length(equal=32),
        metadata={"description": "the previous page's `pages.next`"},
    )
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


AUTO_IN, CONTENT_IN, PAGE_IN = AutoMessageSchema(), MessageContentSchema(), DeliveryPageArgs()


def _auto(message: Message, stats: dict[str, int] | None = None) -> dict[str, Any]:
    """A message for AutoMessageOutSchema and the schemas made from it."""
    current = message.current
    return {
        "stats": stats if stats is not None else _stats([message.message_id])[message.message_id],
        "id": message.message_id,
        "kind": message.kind,
        "message_type": message.message_type,
        "subject": current["subject"],
        "body": current["body"],
        "markup": current["markup"],
        "version": len(message.versions),
        "filter": message.audience,
        "url": message.url_pattern,
        "stop_at": message.stop_at,
        "stopped_at": message.stopped_at,
        "owner": {"id": message.admin_id},
    }


def _app_keys() -> set[str]:
    with services().engine.connect() as conn:
        return custom_keys(conn, g.app_id)


def _stats(message_ids: list[str]) -> dict[str, dict[str, int]]:
    with services().engine.connect() as conn:
        return stats_of(conn, message_ids)


def _found(message_id: str) -> Message:
    found = services().store.get_as(Message, UUID(hex=_hex(message_id)))
    if found is None or found.app_id != g.app_id:
        raise MessageNotFound(f"message {message_id!r}")
    return found


@api.post("/auto_messages")
@answers(AutoMessageOutSchema, body=AUTO_IN)
def post_auto_message() -> Any:
    """Create an auto message

    Shown (in-app) or sent (email) to each user who matches `filter`, now and as users come
    to match it, once each; in-app ones only on pages matching `url` (`*` matches any text),
    all until `stop_at` or until stopped."""
    loaded: dict[str, Any] = given()
    s = services()
    sender = _admin(loaded["sender"])
    composed = ComposeAutoMessage(
        app_id=g.app_id,
        message_type=loaded["message_type"],
        admin_id=sender["id"],
        subject=loaded["subject"],
        body=loaded["body"],
        markup=loaded["markup"],
        style=TEMPLATES[loaded["template"]] if loaded["message_type"] == "email" else None,
        custom_keys=_app_keys(),
        audience=to_json(loaded["filter"]),
        url_pattern=loaded["url"],
        stop_at=loaded["stop_at"],
        unsubscribe_link=loaded["unsubscribe_link"],
    )
    message = handle(compose_auto_message, composed, s.store, s.clock)
    # An auto email goes to those who match now (the reactions), later ones (the sweep).
    return _auto(message)


@api.get("/auto_messages")
@answers(AutoMessageListSchema)
def get_auto_messages() -> Any:
    """The app's live auto messages, with their counts

    Live: not stopped, and their `stop_at` not reached."""
    found = live_messages(services().store, g.app_id)
    stats = _stats([m.message_id for m in found])
    return [_auto(m, stats[m.message_id]) for m in found]


@api.get("/messages/<message_id>")
@answers(MessageOutSchema)
def get_message(message_id: str) -> Any:
    """One message, with its counts

    Any message of the app (`kind` manual: a teammate's; auto), with its counts: emails sent,
    opened, in-app messages delivered and viewed, clicks, replies."""
    return _auto(_found(message_id))


@api.get("/messages/<message_id>/deliveries")
@answers(MessageDeliveryListSchema, query=PAGE_IN)
def get_deliveries(message_id: str) -> Any:
    """Where each email of a message stands

    Each email: claimed, sending, sent, deferred (with the server's reason and attempts so
    far) or uncertain (cut off mid-send, never repeated). A page at a time, in a stable
    order: `pages.next` is the `after` of the next page."""
    found = _found(message_id)
    paging = asked()
    with services().engine.connect() as conn:
        rows = deliveries_of(conn, found.message_id, paging["after"], paging["per_page"])
    next_page = rows[-1]["id"] if len(rows) == paging["per_page"] else None
    return {"deliveries": rows, "pages": {"next": next_page}}


@api.put("/auto_messages/<message_id>")
@answers(AutoMessageOutSchema, body=CONTENT_IN)
def put_auto_message(message_id: str) -> Any:
    """Edit an auto message's content

    New content (a new `version`); who, where and until when cannot change. Users it was
    already shown or sent to keep what they saw."""
    content = given()
    s = services()
    edited = EditMessage(g.app_id, _hex(message_id), content, _app_keys())
    message = handle(edit_message, edited, s.store, s.clock)
    return _auto(message)


@api.post("/auto_messages/<message_id>/stop")
@api.post("/messages/<message_id>/stop")
@answers(StoppedMessageSchema)
def post_stop(message_id: str) -> Any:
    """Stop a message

    Shown to no one else: an auto message stops matching, a manual in-app message is
    withdrawn from users who have not come back yet. A sent email cannot be stopped (400)."""
    s = services()
    message = handle(stop_message, StopMessage(g.app_id, _hex(message_id)), s.store, s.clock)
    return _auto(message)


def _hex(message_id: str) -> str:
    try:
        return UUID(hex=message_id).hex
    except ValueError:
        raise MessageNotFound(f"message {message_id!r}") from None
