"""Emails to teammates when a user writes (seed: "When a user replies, the initiator of the
conversation will receive an email"; "Each user controls their own mail notifications").

Who gets one follows each teammate's setting (`to_notify`, domain/conversations.py). The
teammates to email are recorded on the conversation before anything is sent, so a
notification goes at most once, also when its job runs twice. Emails carry the user's words
only: never notes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any
from uuid import UUID

from commands.apps import recent_app
from commands.clock import Clock
from commands.conversations import load_conversation
from commands.email import Mailing, Thread, apply_thread, thread_for
from commands.handling import handle
from commands.mail import Transport
from commands.store import Parley
from domain.content import conversation_html
from domain.conversations import Conversation, to_notify
from domain.user import User

START = "start"  # the part id for the user's opening message
USER = "user"  # who `Conversation.notify` records for an email to the user


@dataclass(frozen=True)
class Notifying:
    """Who is about to get an email about one part (the user, or teammates; None: the
    teammates `to_notify` picks), recorded before it is sent: at most once each."""

    app_id: str
    conversation_id: str
    part_id: str
    recipients: list[str] | None = None


@dataclass(frozen=True)
class Recorded:
    """The conversation, the recipients not emailed about the part before (to email now), and
    the teammates as read when they were picked (whom those ids name)."""

    conversation: Conversation
    fresh: list[str]
    admins: dict[str, dict[str, str]]


def record_notifying(cmd: Notifying, store: Parley, clock: Clock) -> Recorded:
    conversation = load_conversation(store, cmd.app_id, cmd.conversation_id)
    admins = recent_app(store, cmd.app_id).admins
    recipients = to_notify(admins, conversation) if cmd.recipients is None else cmd.recipients
    fresh = conversation.notify(cmd.part_id, recipients, clock.now())
    store.save_all(conversation)
    return Recorded(conversation, fresh, admins)


def notify_admins(
    store: Parley,
    clock: Clock,
    transport: Transport,
    app_id: str,
    conversation_id: str,
    part_id: str,
    mailing: Mailing,
) -> int:
    """Email the teammates who want it about one user message; how many were sent. Each
    can answer by replying to the email (its Reply-To names them and the conversation)."""
    app = recent_app(store, app_id)
    recorded = handle(record_notifying, Notifying(app_id, conversation_id, part_id), store, clock)
    conversation, admin_ids = recorded.conversation, recorded.fresh
    if part_id == START:
        text = conversation.body
    else:
        text = next(p["body"] for p in conversation.parts if p["id"] == part_id)
    user = store.get_as(User, UUID(hex=conversation.user_key))
    who = (user.name or user.email or user.user_id or "A user") if user else "A user"
    for admin_id in admin_ids:
        admin = recorded.admins[admin_id]  # as picked (`app` may be an older copy)
        thread = thread_for(
            mailing.secret_key,
            mailing.inbound_domain,
            app_id,
            conversation.conversation_id,
            f"a{admin_id}",
        )
        transport.send(
            _email(app.name, admin, who, text or "", conversation, mailing.base_url, thread)
        )
    return len(admin_ids)


def email_user(
    store: Parley,
    clock: Clock,
    transport: Transport,
    app_id: str,
    conversation_id: str,
    part_id: str,
    mailing: Mailing,
) -> bool:
    """A teammate's comment in a conversation held by email goes to the user by email, at
    most once, threaded under the email that started it; whether it was sent. The email is
    built before it is recorded as sent, so one that cannot be built is never recorded."""
    conversation = load_conversation(store, app_id, conversation_id)
    part = next((p for p in conversation.parts if p["id"] == part_id), None)
    user = store.get_as(User, UUID(hex=conversation.user_key))
    if part is None or part["part_type"] != "comment" or not user or not user.email:
        return False
    app = recent_app(store, app_id)
    admin = app.admins.get(part["author"]["id"], {})
    thread = thread_for(
        mailing.secret_key,
        mailing.inbound_domain,
        app_id,
        conversation_id,
        "u",
        in_reply_to=conversation.email_id,
    )
    message = EmailMessage(policy=policy.default)
    subject = " ".join((conversation.subject or f"Your conversation with {app.name}").split())
    message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    message["From"] = formataddr(
        (admin.get("name", app.name), admin.get("email") or f"team@{app_name_domain(app.name)}")
    )
    message["To"] = user.email
    apply_thread(message, thread, mailing.inbound_domain)
    text = part["body"] or ""
    message.set_content(f"{text}\n\n--\nReply to this email to answer {app.name}.\n")
    message.add_alternative(conversation_html(text), subtype="html")
    notifying = Notifying(app_id, conversation_id, part_id, [USER])
    if not handle(record_notifying, notifying, store, clock).fresh:
        return False  # sent (or being sent) already
    transport.send(message)
    return True


def _email(
    app_name: str,
    admin: dict[str, Any],
    who: str,
    text: str,
    conversation: Conversation,
    base_url: str,
    thread: Thread,
) -> EmailMessage:
    # The dashboard's page of the conversation (signed-in teammates of the app only).
    link = f"{base_url.rstrip('/')}/apps/{conversation.app_id}/inbox/{conversation.conversation_id}"
    message = EmailMessage(policy=policy.default)
    message["Subject"] = f"{who} wrote to {app_name}"
    message["From"] = formataddr(
        (f"{who} via Parley", f"notifications@{app_name_domain(app_name)}")
    )
    message["To"] = admin["email"]
    message["Auto-Submitted"] = "auto-generated"  # auto-replies to it are not sent back
    apply_thread(message, thread, "parley.local")
    message.set_content(
        f"{who} wrote:\n\n{text}\n\n--\nReply to this email to answer {who} "
        f"(your reply is posted in the conversation).\nThe conversation: {link}\n"
    )
    message.add_alternative(
        f"<p><strong>{html.escape(who)}</strong> wrote:</p>{conversation_html(text)}"
        f'<p style="color:#888">Reply to this email to answer {html.escape(who)}. '
        f'The conversation: <a href="{html.escape(link)}">{html.escape(link)}</a></p>',
        subtype="html",
    )
    return message


def app_name_domain(app_name: str) -> str:
    """A placeholder sender domain from the app's name ("Acme Inc" -> "acme-inc.parley")."""
    slug = "-".join("".join(c for c in w.lower() if c.isalnum()) for w in app_name.split())
    return f"{slug or 'app'}.parley"
