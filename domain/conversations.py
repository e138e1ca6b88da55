"""Conversations (seed: "Can users reply to messages?", "How does assignment work?",
"Re-Assigning a conversation", "Do users see assignment, archiving, or notes?").

A conversation is started by a user (from the widget's inbox, by email, or through the API) or
by a teammate's message. Every later step is a part: a comment from the user or a teammate, a
private note, an assignment (with an optional private note), closing and reopening. Users only
ever see comments: notes and assignments are for the team. Read state is kept per side: the
user has read up to some part, and so has each teammate.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.identity import NAMESPACE

if TYPE_CHECKING:
    from domain.messages import Message
    from domain.user import User

PART_TYPES = ("comment", "note", "assignment", "open", "close")
MAX_BODY = 100_000
# Where a conversation or part came from: the widget, the REST API, an email (inbound, or a
# message sent as one), an in-app message shown to the user, or the team's dashboard.
CHANNELS = ("widget", "api", "email", "in-app", "dashboard")

Attachment = dict[str, Any]  # {name, content_type, size, sha256}: the bytes are kept apart


def _seconds(at: datetime) -> int:
    return int(at.timestamp())


class Conversation(Aggregate):
    @staticmethod
    def create_id(conversation_id: str) -> UUID:
        return UUID(hex=conversation_id)

    @classmethod
    def start(
        cls,
        *,
        app_id: str,
        user_key: str,
        author: dict[str, str],
        body: str,
        at: datetime,
        assignee: str | None = None,
        message_id: str | None = None,
        markup: str = "text",
        conversation_id: str | None = None,
        via: str | None = None,
        subject: str | None = None,
        email_id: str | None = None,
        attachments: list[Attachment] | None = None,
    ) -> Conversation:
        """A new conversation: the user writing in, or a teammate's message (`message_id`
        names it when it is one of the app's messages, its `body` then the sanitised HTML
        the user was sent: `markup="html"`) to which the user may reply. An email that
        starts one keeps its subject and Message-ID (`email_id`, for threading replies)."""
        if author.get("type") not in ("user", "admin"):
            raise InvalidValue("from", "a conversation is started by a user or an admin")
        if via is not None and via not in CHANNELS:
            raise InvalidValue("via", f"expected one of {', '.join(CHANNELS)}")
        if body or not attachments:
            _check_body(body)
        return cls(
            app_id=app_id,
            conversation_id=conversation_id or uuid4().hex,
            user_key=user_key,
            author=author,
            body=body,
            markup=markup,
            message_id=message_id,
            assignee=assignee,
            at=_seconds(at),
            via=via,
            subject=subject,
            email_id=email_id,
            attachments=list(attachments or []),
        )

    class Started(Aggregate.Created):
        """Version 2 adds the channel, an email's subject and Message-ID, and attachments
        (version 1 conversations came from the widget, the API or a message: None)."""

        class_version = 2
        app_id: str
        conversation_id: str
        user_key: str
        author: dict[str, str]
        body: str
        markup: str
        message_id: str | None
        assignee: str | None
        at: int
        via: str | None
        subject: str | None
        email_id: str | None
        attachments: list[Attachment]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(via=None, subject=None, email_id=None, attachments=[])

    @event(Started)
    def __init__(
        self,
        app_id: str,
        conversation_id: str,
        user_key: str,
        author: dict[str, str],
        body: str,
        markup: str,
        message_id: str | None,
        assignee: str | None,
        at: int,
        via: str | None,
        subject: str | None,
        email_id: str | None,
        attachments: list[Attachment],
    ) -> None:
        self.app_id = app_id
        self.markup = markup  # "text" as typed, or "html" already sanitised (a message)
        self.via = via
        self.subject = subject
        self.email_id = email_id
        self.attachments = attachments
        self.conversation_id = conversation_id
        self.user_key = user_key
        self.author = author
        self.body = body
        self.message_id = message_id
        self.created_at = at
        self.updated_at = at
        self.assignee = assignee
        self.open = True
        self.parts: list[dict[str, Any]] = []
        self.notified: set[tuple[str, str]] = set()  # (part, admin) emailed about it
        # Read state: the number of parts each side had seen (-1: not even the first message).
        by_user = author["type"] == "user"
        self.user_read = 0 if by_user else -1
        self.admins_read: dict[str, int] = {} if by_user else {author["id"]: 0}

    # -- what each side sees ----------------------------------------------------------------

    @property
    def user_started(self) -> bool:
        return bool(self.author["type"] == "user")

    def visible_to_user(self) -> list[dict[str, Any]]:
        """The parts a user may see: comments only (never notes or assignments)."""
        return [p for p in self.parts if p["part_type"] == "comment"]

    @property
    def unread_by_user(self) -> bool:
        """A teammate wrote something the user has not read (the message itself included)."""
        if not self.user_started and self.user_read < 0:
            return True
        return any(
            p["author"]["type"] == "admin"
            for p in self.parts[max(self.user_read, 0) :]
            if p["part_type"] == "comment"
        )

    def unread_by_admin(self, admin_id: str) -> bool:
        """The user wrote something this teammate has not read."""
        seen = self.admins_read.get(admin_id, -1)
        if self.user_started and seen < 0:
            return True
        return any(p["author"]["type"] == "user" for p in self.parts[max(seen, 0) :])

    # -- changes ------------------------------------------------------------------------------

    def reply(
        self,
        *,
        author: dict[str, str],
        part_type: str,
        at: datetime,
        body: str | None = None,
        assignee: str | None = None,
        via: str | None = None,
        attachments: list[Attachment] | None = None,
    ) -> dict[str, Any]:
        """A new part, refused with the field named when it cannot be one. A comment needs
        words or attachments."""
        if part_type not in PART_TYPES:
            raise InvalidValue("message_type", f"expected one of {', '.join(PART_TYPES)}")
        is_user = author.get("type") == "user"
        if is_user and part_type != "comment":
            raise InvalidValue("message_type", "a user can only comment")
        if attachments and part_type != "comment":
            raise InvalidValue("attachments", "only comments carry attachments")
        if via is not None and via not in CHANNELS:
            raise InvalidValue("via", f"expected one of {', '.join(CHANNELS)}")
        if (part_type in ("comment", "note") and not attachments) or (body and body.strip()):
            _check_body(body or "")  # assignments, opening and closing may carry a note
        if part_type == "assignment" and not assignee:
            raise InvalidValue("assignee_id", "an assignment needs the admin to assign to")
        part = {
            "id": uuid4().hex,
            "part_type": part_type,
            "author": author,
            "body": body if body and body.strip() else None,
            "assigned_to": assignee if part_type == "assignment" else None,
            "at": _seconds(at),
            "via": via,
            "attachments": list(attachments or []),
        }
        # The message's stats count a user's first reply to it.
        first_reply = is_user and not any(p["author"]["type"] == "user" for p in self.parts)
        self._replied(part, self.message_id, first_reply and not self.user_started)
        return part

    @event("Replied")
    def _replied(self, part: dict[str, Any], message_id: str | None, first_reply: bool) -> None:
        self.parts.append(part)
        self.updated_at = part["at"]
        kind, author = part["part_type"], part["author"]
        if kind == "assignment":
            self.assignee = part["assigned_to"]
        elif kind == "close":
            self.open = False
        elif kind == "open" or (kind == "comment" and author["type"] == "user"):
            self.open = True  # a user writing again reopens it
        if author["type"] == "user":
            self.user_read = len(self.parts)
        else:
            self.admins_read[author["id"]] = len(self.parts)

    def notify(self, part_id: str, admin_ids: list[str], at: datetime) -> list[str]:
        """Record, before sending, which teammates are emailed about this user comment (or
        the opening message: `part_id` "start"); those recorded before are left out, so a
        notification goes at most once. Returns the ones to email now."""
        fresh = [a for a in admin_ids if (part_id, a) not in self.notified]
        if fresh:
            self._notifying(part_id, fresh, _seconds(at))
        return fresh

    @event("Notifying")
    def _notifying(self, part_id: str, admin_ids: list[str], at: int) -> None:
        self.notified.update((part_id, a) for a in admin_ids)

    def read_by(self, reader: dict[str, str], at: datetime) -> None:
        """The user, or one teammate, has read everything so far."""
        if reader["type"] == "user":
            if self.user_read != len(self.parts):
                self._read(reader, len(self.parts), _seconds(at))
        elif self.admins_read.get(reader["id"], -1) != len(self.parts):
            self._read(reader, len(self.parts), _seconds(at))

    @event("Read")
    def _read(self, reader: dict[str, str], parts: int, at: int) -> None:
        if reader["type"] == "user":
            self.user_read = parts
        else:
            self.admins_read[reader["id"]] = parts


def _check_body(body: str) -> None:
    if not body.strip():
        raise InvalidValue("body", "cannot be empty")
    if len(body) > MAX_BODY:
        raise InvalidValue("body", f"at most {MAX_BODY} characters")


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


def to_notify(admins: dict[str, dict[str, str]], conversation: Conversation) -> list[str]:
    """The teammates who want an email about a user message in this conversation, by each
    one's setting: `all` (every user message in the app), `mine` (the default: conversations
    assigned to them or started by them) or `none`."""
    involved = {conversation.assignee}
    if conversation.author["type"] == "admin":
        involved.add(conversation.author["id"])
    return [
        admin_id
        for admin_id, admin in admins.items()
        if admin.get("notifications", "mine") == "all"
        or (admin.get("notifications", "mine") == "mine" and admin_id in involved)
    ]
