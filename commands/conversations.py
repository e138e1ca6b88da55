"""Conversations: users writing in, teammates replying, notes, assignment, read state.

Every user comment counts toward the user's relationship score (`MessageReceived`) and every
teammate comment too (`MessageSent`); each is saved in the same atomic append as the part.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from commands.apps import load_app, recent_app
from commands.clock import Clock
from commands.errors import ConversationNotFound
from commands.store import Parley, retry_on_conflict
from domain.conversations import Attachment, Conversation
from domain.errors import InvalidValue
from domain.identity import NAMESPACE
from domain.messages import Message
from domain.user import User

# Makes, on each attempt, an aggregate to save with the change: (conversation id, part id).
Record = Callable[[str, str | None], Aggregate]
# Finds or makes a user at a time, with other aggregates to save alongside (aliases, …).
Resolve = Callable[[datetime], tuple[User, list[Aggregate]]]


def set_default_assignee(store: Parley, app_id: str, admin_id: str | None) -> None:
    """Who new conversations from users go to (None: unassigned)."""

    def attempt() -> None:
        app = load_app(store, app_id)
        app.assign_new_conversations_to(admin_id)
        store.save_all(app)

    retry_on_conflict(attempt)


def set_notifications(store: Parley, app_id: str, admin_id: str, setting: str) -> dict[str, str]:
    """A teammate's email notifications about users' messages: all, mine or none."""

    def attempt() -> dict[str, str]:
        app = load_app(store, app_id)
        app.set_notifications(admin_id, setting)
        store.save_all(app)
        return app.admins[admin_id]

    return retry_on_conflict(attempt)


def check_admin(store: Parley, app_id: str, admin_id: str | None, field: str) -> str:
    if admin_id is None or admin_id not in recent_app(store, app_id).admins:
        raise InvalidValue(field, "must be the id of one of the app's admins")
    return admin_id


def start_by_user(
    store: Parley,
    user: User | Resolve,
    body: str,
    clock: Clock,
    *,
    via: str = "api",
    subject: str | None = None,
    email_id: str | None = None,
    attachments: list[Attachment] | None = None,
    record: Record | None = None,
) -> Conversation:
    """The user writes in: a new open conversation for the app's default assignee. What
    `record` makes of it is saved in the same atomic append (an inbound email's record), and
    so is the user when `user` finds or makes them on each attempt (an email's sender)."""

    def attempt() -> Conversation:
        now = clock.now()
        extra: list[Aggregate] = []
        if isinstance(user, User):
            fresh = _user(store, user.id)
        else:
            fresh, extra = user(now)
        assignee = recent_app(store, fresh.app_id).default_assignee
        conversation = Conversation.start(
            app_id=fresh.app_id,
            user_key=fresh.id.hex,
            author={"type": "user", "id": fresh.id.hex},
            body=body,
            at=now,
            assignee=assignee,
            via=via,
            subject=subject,
            email_id=email_id,
            attachments=attachments,
        )
        fresh.message_received(now)
        also = record(conversation.conversation_id, None) if record is not None else None
        store.save_all(conversation, fresh, also, *extra)
        return conversation

    return retry_on_conflict(attempt)


def conversation_for(
    message: Message, user: User, body_html: str, at: datetime, *, by_email: bool = False
) -> Conversation:
    """The conversation a teammate's message opens with a user it reached, so that they can
    reply (seed: "Users can reply to all messages they receive"); unsaved, for the caller to
    save with the delivery. It starts unassigned, read by its author. An email's has a known
    id (`emailed_conversation_id`), which its Reply-To address names."""
    return Conversation.start(
        app_id=user.app_id,
        user_key=user.id.hex,
        author={"type": "admin", "id": message.admin_id},
        body=body_html,
        at=at,
        message_id=message.message_id,
        markup="html",
        conversation_id=emailed_conversation_id(message.message_id, user.id.hex)
        if by_email
        else None,
        via="email" if by_email else "in-app",
    )


def emailed_conversation_id(message_id: str, user_key: str) -> str:
    """The conversation an emailed message opens with one user, known before it is sent."""
    return uuid5(NAMESPACE, f"conversation/{message_id}/{user_key}").hex


def reply(
    store: Parley,
    app_id: str,
    conversation_id: str,
    author: dict[str, str],
    part_type: str,
    clock: Clock,
    body: str | None = None,
    assignee: str | None = None,
    *,
    via: str = "api",
    attachments: list[Attachment] | None = None,
    record: Record | None = None,
) -> dict[str, Any]:
    """A new part from the user or a teammate; a comment counts toward the relationship.
    What `record` makes of it is saved in the same atomic append."""
    if author["type"] == "admin":
        check_admin(store, app_id, author["id"], "admin_id")
    if part_type == "assignment":
        check_admin(store, app_id, assignee, "assignee_id")

    def attempt() -> dict[str, Any]:
        conversation = load_conversation(store, app_id, conversation_id)
        if author["type"] == "user" and author["id"] != conversation.user_key:
            raise ConversationNotFound(conversation_id)  # not theirs: as if it did not exist
        now = clock.now()
        part = conversation.reply(
            author=author,
            part_type=part_type,
            at=now,
            body=body,
            assignee=assignee,
            via=via,
            attachments=attachments,
        )
        user = None
        if part_type == "comment":
            user = _user(store, UUID(hex=conversation.user_key))
            note: Callable[[datetime], None] = (
                user.message_received if author["type"] == "user" else user.message_sent
            )
            note(now)
        also = record(conversation.conversation_id, part["id"]) if record is not None else None
        store.save_all(conversation, user, also)
        return part

    return retry_on_conflict(attempt)


def mark_read(
    store: Parley, app_id: str, conversation_id: str, reader: dict[str, str], clock: Clock
) -> Conversation:
    """The user or a teammate has read everything so far (`PUT /conversations/{id}`)."""
    if reader["type"] == "admin":
        check_admin(store, app_id, reader["id"], "admin_id")

    def attempt() -> Conversation:
        conversation = load_conversation(store, app_id, conversation_id)
        if reader["type"] == "user" and reader["id"] != conversation.user_key:
            raise ConversationNotFound(conversation_id)
        conversation.read_by(reader, clock.now())
        store.save_all(conversation)
        return conversation

    return retry_on_conflict(attempt)


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
