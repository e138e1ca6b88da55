"""Conversations: users writing in, teammates replying, notes, assignment, read state.

Every user comment counts toward the user's relationship score (`MessageReceived`) and every
teammate comment too (`MessageSent`); each is saved in the same atomic append as the part.
Each handler makes one attempt (commands/handling.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.apps import load_app, recent_app
from commands.clock import Clock
from commands.errors import ConversationNotFound
from commands.store import Parley
from domain.conversations import Attachment, Conversation
from domain.errors import InvalidValue
from domain.user import User

# Makes, on each attempt, an aggregate to save with the change: (conversation id, part id).
Record = Callable[[str, str | None], Aggregate]
# Finds or makes a user at a time, with other aggregates to save alongside (aliases, …).
Resolve = Callable[[datetime], tuple[User, list[Aggregate]]]


@dataclass(frozen=True)
class SetDefaultAssignee:
    """Who new conversations from users go to (None: unassigned)."""

    app_id: str
    admin_id: str | None


@dataclass(frozen=True)
class SetNotifications:
    """A teammate's email notifications about users' messages: all, mine or none."""

    app_id: str
    admin_id: str
    setting: str


@dataclass(frozen=True)
class StartConversation:
    """The user writes in (`user_key`: their Parley id; None when `start_by_user` is given
    whom to resolve, as for an email's sender)."""

    app_id: str
    user_key: str | None
    body: str
    via: str = "api"
    subject: str | None = None
    email_id: str | None = None
    attachments: list[Attachment] | None = None


@dataclass(frozen=True)
class Reply:
    """A new part from the user or a teammate: a comment, note, assignment, open or close."""

    app_id: str
    conversation_id: str
    author: dict[str, str]
    part_type: str
    body: str | None = None
    assignee: str | None = None
    via: str = "api"
    attachments: list[Attachment] | None = None


@dataclass(frozen=True)
class MarkRead:
    """The user or a teammate has read everything so far (`PUT /conversations/{id}`)."""

    app_id: str
    conversation_id: str
    reader: dict[str, str]


def set_default_assignee(cmd: SetDefaultAssignee, store: Parley, clock: Clock) -> None:
    app = load_app(store, cmd.app_id)
    app.assign_new_conversations_to(cmd.admin_id)
    store.save_all(app)


def set_notifications(cmd: SetNotifications, store: Parley, clock: Clock) -> dict[str, str]:
    app = load_app(store, cmd.app_id)
    app.set_notifications(cmd.admin_id, cmd.setting)
    store.save_all(app)
    return app.admins[cmd.admin_id]


def check_admin(store: Parley, app_id: str, admin_id: str | None, field: str) -> str:
    if admin_id is None or admin_id not in recent_app(store, app_id).admins:
        raise InvalidValue(field, "must be the id of one of the app's admins")
    return admin_id


def admin_by_email(store: Parley, app_id: str, email: str) -> str:
    """The id of the app's admin with this email (any case)."""
    wanted = email.strip().casefold()
    for admin_id, admin in recent_app(store, app_id).admins.items():
        if str(admin.get("email", "")).casefold() == wanted:
            return admin_id
    raise InvalidValue("email", "must be the email of one of the app's admins")


def start_by_user(
    cmd: StartConversation,
    store: Parley,
    clock: Clock,
    *,
    resolve: Resolve | None = None,
    record: Record | None = None,
) -> Conversation:
    """A new open conversation for the app's default assignee. What `record` makes of it is
    saved in the same atomic append (an inbound email's record), and so is the user when
    `resolve` finds or makes them (an email's sender)."""
    now = clock.now()
    extra: list[Aggregate] = []
    if resolve is not None:
        user, extra = resolve(now)
    else:
        assert cmd.user_key is not None
        user = _user(store, UUID(hex=cmd.user_key))
    assignee = recent_app(store, user.app_id).default_assignee
    conversation = Conversation.start(
        app_id=user.app_id,
        user_key=user.id.hex,
        author={"type": "user", "id": user.id.hex},
        body=cmd.body,
        at=now,
        assignee=assignee,
        via=cmd.via,
        subject=cmd.subject,
        email_id=cmd.email_id,
        attachments=cmd.attachments,
    )
    user.message_received(now)
    also = record(conversation.conversation_id, None) if record is not None else None
    store.save_all(conversation, user, also, *extra)
    return conversation


def reply(
    cmd: Reply, store: Parley, clock: Clock, *, record: Record | None = None
) -> dict[str, Any]:
    """A new part; a comment counts toward the relationship. What `record` makes of it is
    saved in the same atomic append."""
    author = cmd.author
    if author["type"] == "admin":
        check_admin(store, cmd.app_id, author["id"], "admin_id")
    if cmd.part_type == "assignment":
        check_admin(store, cmd.app_id, cmd.assignee, "assignee_id")
    conversation = load_conversation(store, cmd.app_id, cmd.conversation_id)
    if author["type"] == "user" and author["id"] != conversation.user_key:
        raise ConversationNotFound(cmd.conversation_id)  # not theirs: as if it did not exist
    now = clock.now()
    part = conversation.reply(
        author=author,
        part_type=cmd.part_type,
        at=now,
        body=cmd.body,
        assignee=cmd.assignee,
        via=cmd.via,
        attachments=cmd.attachments,
    )
    user = None
    if cmd.part_type == "comment":
        user = _user(store, UUID(hex=conversation.user_key))
        note: Callable[[datetime], None] = (
            user.message_received if author["type"] == "user" else user.message_sent
        )
        note(now)
    also = record(conversation.conversation_id, part["id"]) if record is not None else None
    store.save_all(conversation, user, also)
    return part


def mark_read(cmd: MarkRead, store: Parley, clock: Clock) -> Conversation:
    reader = cmd.reader
    if reader["type"] == "admin":
        check_admin(store, cmd.app_id, reader["id"], "admin_id")
    conversation = load_conversation(store, cmd.app_id, cmd.conversation_id)
    if reader["type"] == "user" and reader["id"] != conversation.user_key:
        raise ConversationNotFound(cmd.conversation_id)
    conversation.read_by(reader, clock.now())
    store.save_all(conversation)
    return conversation


def load_conversation(store: Parley, app_id: str, conversation_id: str) -> Conversation:
    try:
        key = UUID(hex=conversation_id)
    except ValueError:
        raise ConversationNotFound(conversation_id) from None
    found = store.get_as(Conversation, key)
    if found is None or found.app_id != app_id:
        raise ConversationNotFound(conversation_id)
    return found


def _user(store: Parley, key: UUID) -> User:
    found = store.get_as(User, key)
    if found is None or found.deleted:
        raise InvalidValue("user", "the user no longer exists")
    return found
