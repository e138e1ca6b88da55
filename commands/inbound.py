"""Email into the inbox (seed: "Forwarding support emails to your Intercom Inbox").

Each app has an incoming address, `APP_ID@INBOUND_DOMAIN`. An email to it from a user (matched
by the sender's address; an unknown sender becomes a new user) starts a conversation. Replies
thread into their conversation by the token Parley put in the Reply-To address
(`APP_ID+TOKEN@…`) or in the Message-ID that the reply's In-Reply-To/References repeat; a
teammate replying to a notification email posts a teammate's comment. Quoted history and
signatures are trimmed; attachments are kept (each up to ATTACHMENT_MAX_BYTES) in the
`attachments` table, named by their SHA-256, before the part that refers to them is saved.

Each email is recorded as an `InboundEmail` aggregate keyed by its Message-ID, in the same
atomic append as the conversation change: a redelivered email is recognised and never posted
twice, and a refused one (with its logged reason) leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate
from sqlalchemy import Engine

from commands.apps import recent_app
from commands.attachments import keep_attachments
from commands.clock import Clock
from commands.conversations import (
    Reply,
    Resolve,
    StartConversation,
    load_conversation,
    reply,
    start_by_user,
)
from commands.errors import AppNotFound, ConversationNotFound
from commands.handling import handle
from commands.mime import Limits, Parsed, Refused, parse
from commands.store import Parley
from commands.tokens import read_reply_tokens
from commands.users import UserInput, apply_user_input, resolve_user
from domain.errors import InvalidValue
from domain.inbound import InboundEmail, honours_token, inbound_key
from domain.user import User

log = logging.getLogger("parley.inbound")


@dataclass
class Outcome:
    """What became of one email: posted (a new conversation or a reply), or ignored as a
    duplicate or an automatic reply. What follows (emails to the team or the user) is the
    reactions' (workers/reactions.py)."""

    status: str  # "started", "replied", "duplicate", "ignored"
    conversation_id: str | None = None
    part_id: str | None = None
    reason: str | None = None


# -- where it goes --------------------------------------------------------------------------


def app_of(address: str, domain: str) -> tuple[str, str | None] | None:
    """`APP_ID@domain` or `APP_ID+TOKEN@domain`: (app id, token or None)."""
    local, _, at = address.strip().lower().rpartition("@")
    if at != domain.lower() or not local:
        return None
    app_id, _, token = local.partition("+")
    return (app_id, token or None) if app_id else None


def receive(
    store: Parley,
    engine: Engine,
    clock: Clock,
    limits: Limits,
    app_id: str,
    raw: bytes,
    recipient: str | None = None,
) -> Outcome:
    """Take one email for one app: post it, or raise Refused (logged) with nothing stored."""
    try:
        try:
            return _receive(store, engine, clock, limits, app_id, raw, recipient)
        except InvalidValue as invalid:  # e.g. the sender's user was deleted meanwhile
            raise Refused(f"{invalid.field}: {invalid.reason}") from None
    except Refused as refused:
        log.warning("inbound email for %s refused: %s", app_id, refused.reason)
        raise


def _receive(
    store: Parley,
    engine: Engine,
    clock: Clock,
    limits: Limits,
    app_id: str,
    raw: bytes,
    recipient: str | None,
) -> Outcome:
    try:
        app = recent_app(store, app_id)
    except AppNotFound:
        raise Refused(f"no app {app_id!r} here") from None
    try:
        parsed = parse(raw, limits)
    except Refused as refused:
        if refused.code == 250:
            log.info("inbound email for %s ignored: %s", app_id, refused.reason)
            return Outcome("ignored", reason=refused.reason)
        raise
    if read_reply_tokens(limits.secret_key, parsed.message_id or ""):
        reason = "one of Parley's own emails came back: not posted"
        log.info("inbound email for %s ignored: %s", app_id, reason)
        return Outcome("ignored", reason=reason)
    email_id = parsed.message_id or f"<sha256:{hashlib.sha256(raw).hexdigest()}>"
    key = inbound_key(app_id, email_id, parsed.sender)
    if store.get_as(InboundEmail, key) is not None:
        return _duplicate(store, key)
    admin = app.admin_with_email(parsed.sender)
    # A token: in the address the email was sent to, else in the Message-IDs it answers; only
    # one given to this sender counts (a user's to that user's address, a teammate's to them).
    addressed = read_reply_tokens(
        limits.secret_key, " ".join([recipient or "", *parsed.recipients])
    )
    answered = read_reply_tokens(limits.secret_key, parsed.references)
    seen: set[tuple[str, str]] = set()
    tokens = []
    for token in [*addressed, *answered][:50]:
        if token not in seen and _given_to_sender(store, app_id, token, parsed.sender, admin):
            tokens.append(token)
        seen.add(token)
    if not tokens and any(who != "u" for _, who in addressed):
        raise Refused("this reply address was given to a teammate; the sender is not that teammate")
    attached = [kept for kept, _ in parsed.files]

    def record(conversation_id: str, part_id: str | None) -> InboundEmail:
        if store.find(key) is not None:  # the same email, taken meanwhile by another process
            raise _Duplicate()
        return InboundEmail(
            app_id=app_id,
            email_id=email_id,
            sender=parsed.sender,
            subject=parsed.subject,
            size=len(raw),
            conversation_id=conversation_id,
            part_id=part_id,
            author=author,
            at=int(clock.now().timestamp()),
        )

    if tokens:
        conversation_id, who = tokens[0]
        conversation = load_conversation(store, app_id, conversation_id)
        author = (
            {"type": "user", "id": conversation.user_key}
            if who == "u"
            else {"type": "admin", "id": who[1:]}
        )
        keep_attachments(engine, app_id, parsed.files, clock)
        try:
            command = Reply(
                app_id,
                conversation_id,
                author,
                "comment",
                body=parsed.text,
                via="email",
                attachments=attached,
            )
            part = handle(reply, command, store, clock, record=record)
        except _Duplicate:
            return _duplicate(store, key)
        outcome = Outcome("replied", conversation_id, part["id"])
    else:
        if admin is not None:
            raise Refused(
                "a teammate's email must answer a conversation (reply to its notification email)"
            )
        author = None  # the sender's user, found or made when saving
        keep_attachments(engine, app_id, parsed.files, clock)
        try:
            opening = StartConversation(
                app_id,
                None,
                parsed.text,
                via="email",
                subject=parsed.subject,
                email_id=parsed.message_id,
                attachments=attached,
            )
            resolve = _sender(app_id, parsed, store)
            started = handle(start_by_user, opening, store, clock, resolve=resolve, record=record)
        except _Duplicate:
            return _duplicate(store, key)
        outcome = Outcome("started", started.conversation_id)
    log.info(
        "inbound email %s from %s: %s %s",
        email_id,
        parsed.sender,
        outcome.status,
        outcome.conversation_id,
    )
    return outcome


def _duplicate(store: Parley, key: UUID) -> Outcome:
    """An email taken before: where it went."""
    earlier = store.get_as(InboundEmail, key)
    assert earlier is not None
    return Outcome("duplicate", earlier.conversation_id, earlier.part_id)


class _Duplicate(Exception):
    pass


def _given_to_sender(
    store: Parley,
    app_id: str,
    token: tuple[str, str],
    sender: str,
    admin: dict[str, str] | None,
) -> bool:
    """Whether a reply token names a conversation of this app and was given to the sender."""
    conversation_id, who = token
    try:
        conversation = load_conversation(store, app_id, conversation_id)
    except ConversationNotFound:  # another app's: not a thread of this one
        return False
    user = store.get_as(User, UUID(hex=conversation.user_key)) if who == "u" else None
    return honours_token(
        who, sender, admin["id"] if admin else None, user.email if user is not None else None
    )


def _sender(app_id: str, parsed: Parsed, store: Parley) -> Resolve:
    """Finds the user with the sender's address, or makes one named as the From header names
    them, with what to save alongside; saved with the conversation, all or nothing."""

    def resolve(now: datetime) -> tuple[User, list[Aggregate]]:
        user, aliases = resolve_user(store, app_id, None, parsed.sender, now)
        others: list[Aggregate] = []
        if user.deleted or not user.name:
            attributes = {"name": parsed.sender_name} if parsed.sender_name else {}
            given = UserInput(email=parsed.sender, attributes=attributes)
            others = apply_user_input(store, user, given, by="email", at=now)
        return user, [*aliases, *others]

    return resolve
