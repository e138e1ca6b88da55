"""`POST /messages`: a teammate's email or in-app message to one user or to every user a filter
matches now (Intercom 1.x admin-initiated messages); auto messages.

Routes join the `api` blueprint; web/app.py imports this module before registering it. In-app
and inbox messages arrive with conversations; auto messages with their sweep.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue
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
from web.api import api, body, named_user, services
from web.context import jobs

TEMPLATES = {"plain": "personal", "personal": "personal", "official": "official"}


class PartySchema(Schema):
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
    sender = fields.Nested(PartySchema, data_key="from", required=True)
    to = fields.Nested(PartySchema, required=True)


MESSAGE_IN = AdminMessageSchema()


def _admin(sender: dict[str, Any]) -> dict[str, Any]:
    """`from` must name one of the app's admins."""
    admins = recent_app(services().store, g.app_id).admins
    if sender["type"] != "admin" or sender.get("id") not in admins:
        raise ValidationError({"from": ["must be one of the app's admins: {type: admin, id}"]})
    return sender


def _manual(
    given: dict[str, Any],
    admin_id: str,
    audience: dict[str, Any] | None,
    recipients: list[str] | None,
    custom_keys: set[str],
    at_once: bool = False,
) -> ComposeManual:
    email = given["message_type"] == "email"
    return ComposeManual(
        app_id=g.app_id,
        message_type="email" if email else IN_APP[given["message_type"]],
        admin_id=admin_id,
        subject=given["subject"],
        body=given["body"],
        markup=given["markup"],
        style=TEMPLATES[given["template"]] if email else None,
        custom_keys=custom_keys,
        audience=audience,
        recipients=recipients,
        unsubscribe_link=given.get("unsubscribe_link"),
        at_once=at_once,
    )


@api.post("/messages")
def post_message() -> ResponseReturnValue:
    raw = body()
    sender = raw.get("from")
    if isinstance(sender, dict) and sender.get("type") == "user":
        from web.conversations import post_user_message

        return post_user_message(raw)
    chosen = raw.get("to") if isinstance(raw.get("to"), list) else None
    given: dict[str, Any] = MESSAGE_IN.load({**raw, "to": {"type": "user"}} if chosen else raw)
    s = services()
    run = (s.store, s.clock)
    sender, to = _admin(given["sender"]), given["to"]
    if chosen is not None:
        message = _to_chosen(given, chosen, sender["id"])
    elif to["type"] == "users":
        audience = to_json(to.get("filter", EVERYONE))
        with s.engine.connect() as conn:
            known = custom_keys(conn, g.app_id)
        # The fan-out follows (workers/reactions.py).
        message = handle(send_manual, _manual(given, sender["id"], audience, None, known), *run)
    elif to["type"] == "user":
        user = named_user(to)
        # An email is claimed and sent by the reactions; an in-app copy saved with it.
        cmd = _manual(given, sender["id"], None, [user.id.hex], set(user.custom), at_once=True)
        message = handle(send_manual, cmd, *run)
    else:
        raise ValidationError(
            {"to": ["a user {type: user, id|user_id|email} or users {type: users, filter}"]}
        )
    return jsonify(
        {
            "type": "admin_message",
            "id": message.id.hex,
            "created_at": int(s.clock.now().timestamp()),
            "message_type": given["message_type"],
            "subject": given["subject"],
            "body": given["body"],
            "template": given["template"] if message.message_type == "email" else None,
            "owner": {"type": "admin", "id": sender["id"]},
        }
    )


MAX_CHOSEN = 1000


def _to_chosen(given: dict[str, Any], chosen: list[Any], admin_id: str) -> Message:
    """`to` as a list of users (`{type: user, id|user_id|email}`, up to 1,000): the message
    goes to those users, as a teammate's personal message (no unsubscribe link)."""
    if not 1 <= len(chosen) <= MAX_CHOSEN:
        raise ValidationError({"to": [f"between 1 and {MAX_CHOSEN} users"]})
    try:
        parties = PartySchema(many=True).load(chosen)
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
    return handle(send_manual, _manual(given, admin_id, None, keys, known), s.store, s.clock)


@api.post("/messages/preview")
def preview_message() -> ResponseReturnValue:
    """What `POST /messages` with the same body would send, rendered by the same code and
    checked by the same rules, but neither saved nor sent: to one user, with their values;
    to a filter's users, with every variable's fallback."""
    given: dict[str, Any] = MESSAGE_IN.load(body())
    s = services()
    sender, to = _admin(given["sender"]), given["to"]
    if to["type"] == "user":
        user = named_user(to)
        cmd = _manual(given, sender["id"], None, [user.id.hex], set(user.custom))
    elif to["type"] == "users":
        user = fallback_user(g.app_id, s.clock.now())
        with s.engine.connect() as conn:
            known = custom_keys(conn, g.app_id)
        cmd = _manual(given, sender["id"], to_json(to.get("filter", EVERYONE)), None, known)
    else:
        raise ValidationError(
            {"to": ["a user {type: user, id|user_id|email} or users {type: users, filter}"]}
        )
    message = compose_manual(cmd, s.clock.now())
    return jsonify(preview(message, user, jobs().preview_email))


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
    sender = fields.Nested(PartySchema, data_key="from", required=True)
    filter = FilterField(required=True)
    url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2048))
    stop_at = Timestamp(load_default=None, allow_none=True)
    unsubscribe_link = fields.Boolean(load_default=None, allow_none=True)


class ContentSchema(Schema):
    subject = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    # Left out: the markup of the version it replaces.
    markup = fields.String(load_default=None, validate=validate.OneOf(["markdown", "html"]))


AUTO_IN, CONTENT_IN = AutoMessageSchema(), ContentSchema()


def _auto(message: Message, stats: dict[str, int] | None = None) -> dict[str, Any]:
    current = message.current
    return {
        "stats": stats if stats is not None else _stats([message.message_id])[message.message_id],
        "type": "auto_message",
        "id": message.message_id,
        "message_type": message.message_type,
        "subject": current["subject"],
        "body": current["body"],
        "markup": current["markup"],
        "version": len(message.versions),
        "filter": message.audience,
        "url": message.url_pattern,
        "stop_at": message.stop_at,
        "stopped_at": message.stopped_at,
        "owner": {"type": "admin", "id": message.admin_id},
    }


def _app_keys() -> set[str]:
    with services().engine.connect() as conn:
        return custom_keys(conn, g.app_id)


@api.post("/auto_messages")
def post_auto_message() -> ResponseReturnValue:
    given: dict[str, Any] = AUTO_IN.load(body())
    s = services()
    sender = _admin(given["sender"])
    composed = ComposeAutoMessage(
        app_id=g.app_id,
        message_type=given["message_type"],
        admin_id=sender["id"],
        subject=given["subject"],
        body=given["body"],
        markup=given["markup"],
        style=TEMPLATES[given["template"]] if given["message_type"] == "email" else None,
        custom_keys=_app_keys(),
        audience=to_json(given["filter"]),
        url_pattern=given["url"],
        stop_at=given["stop_at"],
        unsubscribe_link=given["unsubscribe_link"],
    )
    message = handle(compose_auto_message, composed, s.store, s.clock)
    # An auto email goes to those who match now (the reactions), later ones (the sweep).
    return jsonify(_auto(message))


@api.get("/auto_messages")
def get_auto_messages() -> ResponseReturnValue:
    found = live_messages(services().store, g.app_id)
    stats = _stats([m.message_id for m in found])
    listed = [_auto(m, stats[m.message_id]) for m in found]
    return jsonify({"type": "auto_message.list", "auto_messages": listed})


@api.get("/messages/<message_id>")
def get_message(message_id: str) -> ResponseReturnValue:
    """Any message of the app, with its counts: emails sent, in-app delivered and viewed."""
    found = services().store.get_as(Message, UUID(hex=_hex(message_id)))
    if found is None or found.app_id != g.app_id:
        raise MessageNotFound(f"message {message_id!r}")
    return jsonify({**_auto(found), "type": "message", "kind": found.kind})


@api.get("/messages/<message_id>/deliveries")
def get_deliveries(message_id: str) -> ResponseReturnValue:
    """Where each email of a message stands: claimed, sending, sent, deferred (with the
    server's reason and attempts so far) or uncertain (cut off mid-send, never repeated)."""
    found = services().store.get_as(Message, UUID(hex=_hex(message_id)))
    if found is None or found.app_id != g.app_id:
        raise MessageNotFound(f"message {message_id!r}")
    paging = PAGE_IN.load(request.args)
    with services().engine.connect() as conn:
        rows = deliveries_of(conn, found.message_id, paging["after"], paging["per_page"])
    next_page = rows[-1]["id"] if len(rows) == paging["per_page"] else None
    return jsonify({"type": "delivery.list", "deliveries": rows, "pages": {"next": next_page}})


class PageSchema(Schema):
    after = fields.String(load_default=None, validate=validate.Length(equal=32))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


PAGE_IN = PageSchema()


def _stats(message_ids: list[str]) -> dict[str, dict[str, int]]:
    with services().engine.connect() as conn:
        return stats_of(conn, message_ids)


@api.put("/auto_messages/<message_id>")
def put_auto_message(message_id: str) -> ResponseReturnValue:
    """New content (a new version); who, where and until when cannot change."""
    content = CONTENT_IN.load(body())
    s = services()
    edited = EditMessage(g.app_id, _hex(message_id), content, _app_keys())
    message = handle(edit_message, edited, s.store, s.clock)
    return jsonify(_auto(message))


@api.post("/auto_messages/<message_id>/stop")
@api.post("/messages/<message_id>/stop")
def post_stop(message_id: str) -> ResponseReturnValue:
    """Shown to no one else: an auto message stops matching, a manual in-app message is
    withdrawn from users who have not come back yet. A sent email cannot be stopped."""
    s = services()
    message = handle(stop_message, StopMessage(g.app_id, _hex(message_id)), s.store, s.clock)
    return jsonify({**_auto(message), "kind": message.kind})


def _hex(message_id: str) -> str:
    try:
        return UUID(hex=message_id).hex
    except ValueError:
        raise MessageNotFound(f"message {message_id!r}") from None
