"""Manual messages (seed: "What are Manual Messages?"): a teammate's message to chosen users
or to every user a filter matches now, composed, previewed and sent the same way whether it
comes from the REST API (`POST /messages`, `POST /messages/preview`) or from the dashboard's
composer. What follows a saved message (its fan-out, each email) is the reactions'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

from commands.auto_messages import SendInApp, send_in_app, shown
from commands.clock import Clock
from commands.email import Sender, build_email
from commands.html_text import html_to_text
from commands.mail import Transport
from commands.store import Parley
from domain.content import Body, shows_something
from domain.messages import Message
from domain.user import User


@dataclass(frozen=True)
class ComposeManual:
    """A manual message: to `recipients` (user keys) or to the users `audience` matches."""

    app_id: str
    message_type: str  # conversation, announcement, notification, inbox or email
    admin_id: str
    subject: str | None
    body: str
    markup: str
    style: str | None
    custom_keys: set[str]
    audience: dict[str, Any] | None = None
    recipients: list[str] | None = None
    unsubscribe_link: bool | None = None  # emails only; None: bulk ones carry it
    at_once: bool = False  # one user's in-app copy saved with the message, not fanned out


def compose_manual(cmd: ComposeManual, at: datetime) -> Message:
    """The message, unsaved; refused with the field named if any part cannot be sent."""
    return Message.compose(
        app_id=cmd.app_id,
        kind="manual",
        message_type=cmd.message_type,
        admin_id=cmd.admin_id,
        subject=cmd.subject,
        body=cmd.body,
        markup=cmd.markup,
        style=cmd.style if cmd.message_type == "email" else None,
        custom_keys=cmd.custom_keys,
        at=at,
        audience=cmd.audience,
        recipients=cmd.recipients,
        unsubscribe_link=cmd.unsubscribe_link,
    )


def send_manual(cmd: ComposeManual, store: Parley, clock: Clock) -> Message:
    """Saved: its fan-out follows (workers/reactions.py); with `at_once`, an in-app message
    to one user is saved together with that user's copy (composed afresh on each attempt)."""
    if cmd.at_once and cmd.message_type != "email" and cmd.recipients and len(cmd.recipients) == 1:
        one = SendInApp(cmd.recipients[0])
        return send_in_app(one, store, clock, compose=lambda: compose_manual(cmd, clock.now()))
    message = compose_manual(cmd, clock.now())
    store.save_all(message)
    return message


BuildEmail = Callable[[Message, User], EmailMessage]


def preview(message: Message, user: User, email_of: BuildEmail) -> dict[str, Any]:
    """What the message shows this user (a user of the app, or a stand-in holding no values:
    every fallback): an in-app message as the widget receives it, an email's parts as sent."""
    if message.message_type != "email":
        content = shown(message, user)
        # An empty render is skipped for that user (counted as not shown): say so.
        empty = not shows_something(content["body"])
        return {**content, "type": "message_preview", "empty": empty}
    built = email_of(message, user)
    parts = {p.get_content_type(): p.get_content() for p in built.walk() if not p.is_multipart()}
    return {
        "type": "message_preview",
        "message_type": "email",
        "from": built["From"],
        "subject": built["Subject"],
        "html": parts["text/html"],
        "text": parts["text/plain"],
    }


def fallback_user(app_id: str, at: datetime) -> User:
    """A user of the app who has no values (unsaved): every variable shows its fallback."""
    return User(app_id=app_id, user_id="preview", email=None, at=at)


def stand_in(user: User, at: datetime) -> User:
    """An unsaved user with this user's values under a new identity: a test copy's links
    (unsubscribe, tracking, replies) then name no real user."""
    copy = User(app_id=user.app_id, user_id=f"test-{uuid4().hex}", email=None, at=at)
    for name in ("user_id", "email", "name", "city", "country"):
        setattr(copy, name, getattr(user, name))  # values only: nothing of it is recorded
    copy.custom = dict(user.custom)
    copy.companies = list(user.companies[:1])
    return copy


@dataclass(frozen=True)
class TestCopy:
    """A message as it would reach `user`, sent to a teammate instead (nothing is saved)."""

    message: Message
    user: User
    to: str
    at: datetime


def send_test(cmd: TestCopy, email_of: BuildEmail, transport: Transport) -> EmailMessage:
    """An email goes as the user would get it, addressed to the teammate and marked a test;
    an in-app message, which has no email of its own, goes as its words in a plain email
    saying where the widget shows it. Raises MailRefused when the server refuses."""
    message = cmd.message
    if message.message_type == "email":
        built = email_of(message, stand_in(cmd.user, cmd.at))
        subject = str(built["Subject"])
        del built["To"], built["Subject"]
        built["To"], built["Subject"] = cmd.to, f"[Test] {subject}"
    else:
        content = shown(message, cmd.user)
        words = Body(content["body"], html_to_text(content["body"]), ())
        title = content["subject"] or "an in-app message"
        built = build_email(
            words,
            {},
            subject=f"[Test] {message.message_type.capitalize()}: {title}"[:255],
            style="personal",
            sender=Sender("Parley", cmd.to),
            to=cmd.to,
            unsubscribe_url=None,
        )
    transport.send(built)
    return built


# Where the widget (web/widget_src/popups.js) puts each in-app type (seed: "Different Message
# Types"); popups show one at a time.
PLACES = {
    "conversation": "a popup in the middle of the user's page, with a reply box",
    "announcement": "a large popup filling most of the user's page, with a reply box",
    "notification": "a small popup in the top-right corner that fades after a while",
    "inbox": "in the user's message box, with a badge on the inbox button",
}


def user_named(store: Parley, app_id: str, user_key: str) -> User | None:
    """One of the app's users by key, or None."""
    try:
        found = store.get_as(User, UUID(hex=user_key))
    except ValueError:
        return None
    return found if found is not None and found.app_id == app_id and not found.deleted else None
