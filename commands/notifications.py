"""Emails to teammates when a user writes (seed: "When a user replies, the initiator of the
conversation will receive an email"; "Each user controls their own mail notifications").

Who gets one follows each teammate's setting: `all` (every user message in the app), `mine`
(the default: conversations assigned to them or started by them) or `none`. The teammates to
email are recorded on the conversation before anything is sent, so a notification goes at
most once, also when its job runs twice. Emails carry the user's words only: never notes.
"""

from __future__ import annotations

import html
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from uuid import UUID

from commands.apps import recent_app
from commands.clock import Clock
from commands.conversations import load_conversation
from commands.mail import Transport
from commands.store import Parley, retry_on_conflict
from domain.content import conversation_html
from domain.conversations import Conversation
from domain.user import User

START = "start"  # the part id for the user's opening message


def to_notify(admins: dict[str, dict[str, str]], conversation: Conversation) -> list[str]:
    """The teammates who want an email about a user message in this conversation."""
    involved = {conversation.assignee}
    if conversation.author["type"] == "admin":
        involved.add(conversation.author["id"])
    return [
        admin_id
        for admin_id, admin in admins.items()
        if admin.get("notifications", "mine") == "all"
        or (admin.get("notifications", "mine") == "mine" and admin_id in involved)
    ]


def notify_admins(
    store: Parley,
    clock: Clock,
    transport: Transport,
    app_id: str,
    conversation_id: str,
    part_id: str,
    base_url: str,
) -> int:
    """Email the teammates who want it about one user message; how many were sent."""
    app = recent_app(store, app_id)

    def attempt() -> tuple[Conversation, list[str]]:
        conversation = load_conversation(store, app_id, conversation_id)
        fresh = conversation.notify(part_id, to_notify(app.admins, conversation), clock.now())
        store.save_all(conversation)
        return conversation, fresh

    conversation, admin_ids = retry_on_conflict(attempt)
    if part_id == START:
        text = conversation.body
    else:
        text = next(p["body"] for p in conversation.parts if p["id"] == part_id)
    user = store.get_as(User, UUID(hex=conversation.user_key))
    who = (user.name or user.email or user.user_id or "A user") if user else "A user"
    for admin_id in admin_ids:
        admin = app.admins[admin_id]
        transport.send(_email(app.name, admin, who, text or "", conversation, base_url))
    return len(admin_ids)


def _email(
    app_name: str,
    admin: dict[str, Any],
    who: str,
    text: str,
    conversation: Conversation,
    base_url: str,
) -> EmailMessage:
    link = f"{base_url.rstrip('/')}/conversations/{conversation.conversation_id}"
    message = EmailMessage(policy=policy.default)
    message["Subject"] = f"{who} wrote to {app_name}"
    message["From"] = formataddr(
        (f"{who} via Parley", f"notifications@{app_name_domain(app_name)}")
    )
    message["To"] = admin["email"]
    message["Message-ID"] = make_msgid(domain="parley.local")
    message.set_content(f"{who} wrote:\n\n{text}\n\n--\nThe conversation: {link}\n")
    message.add_alternative(
        f"<p><strong>{html.escape(who)}</strong> wrote:</p>{conversation_html(text)}"
        f'<p style="color:#888">The conversation: <a href="{html.escape(link)}">'
        f"{html.escape(link)}</a></p>",
        subtype="html",
    )
    return message


def app_name_domain(app_name: str) -> str:
    """A placeholder sender domain from the app's name ("Acme Inc" -> "acme-inc.parley")."""
    slug = "-".join("".join(c for c in w.lower() if c.isalnum()) for w in app_name.split())
    return f"{slug or 'app'}.parley"
