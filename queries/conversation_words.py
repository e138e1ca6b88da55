"""The words of a conversation's trail (queries/conversation_trail.py): for each event, a short
action name and a sentence saying what happened, with the parts it concerns by log position."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import nh3

from queries.activity_words import excerpt

START = "start"  # the part id a notification about the opening message names
USER = "user"  # the recipient id of an answer emailed to the user


@dataclass(frozen=True)
class People:
    """Whom a trail names: the app's teammates by id (removed ones too) and the conversation's
    user (name, email, user_id as the store has them; None: no such user recorded)."""

    admins: Mapping[str, Mapping[str, str]]
    user_key: str
    user: Mapping[str, Any] | None

    def user_name(self) -> str:
        found = self.user or {}
        return str(found.get("name") or found.get("email") or found.get("user_id") or "The user")

    def user_email(self) -> str | None:
        return (self.user or {}).get("email")

    def admin(self, admin_id: str) -> dict[str, str]:
        found = self.admins.get(admin_id) or {}
        return {
            "name": found.get("name") or found.get("email") or f"Teammate {admin_id}",
            "email": found.get("email") or "",
        }


@dataclass(frozen=True)
class Context:
    """What the sentences need beyond their event: names, and each part's log position."""

    people: People
    parts: Mapping[str, int]  # part id -> position of the event that added it

    def part(self, part_id: str | None) -> str:
        if part_id in (None, START):
            return "the opening message"
        found = self.parts.get(part_id)
        return f"#{found}" if found is not None else f"part {part_id}"

    def recipients(self, event: Any) -> list[dict[str, Any]]:
        """Whom a notification went to, as known now (teammates by name and address)."""
        found: list[dict[str, Any]] = []
        for admin_id in event.admin_ids:
            if admin_id == USER:
                found.append(
                    {"type": "user", "id": self.people.user_key, "email": self.people.user_email()}
                )
            else:
                found.append({"type": "admin", "id": admin_id, **self.people.admin(admin_id)})
        return found


def action_of(event: Any) -> str:
    """A short name for what happened: a part's type, `read`, `email_sent`, …"""
    kind, _, name = type(event).__qualname__.partition(".")
    if hasattr(event, "part"):
        return str(event.part["part_type"])
    if kind == "Conversation" and name == "Notifying":
        return "emailed_user" if list(event.admin_ids) == [USER] else "notified_teammates"
    if kind == "InboundEmail":
        return "email_received"
    if kind == "Delivery":
        return "email_" + name.lower()
    return name.lower()


def summary_of(event: Any, context: Context) -> str:
    name = type(event).__qualname__
    words = SENTENCES.get(name)
    return words(event, context) if words is not None else name


def quoted(text: str | None, markup: str = "text") -> str:
    """A body as one line of plain text, quoted (HTML sent as a message loses its tags)."""
    plain = html.unescape(nh3.clean(text or "", tags=set())) if markup == "html" else text
    return f"“{excerpt(plain, 120)}”" if plain and plain.strip() else ""


def _files(kept: list[Any]) -> str:
    if not kept:
        return ""
    names = ", ".join(str(a.get("name")) for a in kept)
    return f" with {len(kept)} attachment{'s' if len(kept) > 1 else ''} ({names})"


def _started(e: Any, c: Context) -> str:
    said = quoted(e.body, e.markup)
    if e.author["type"] == "admin" and e.message_id:
        words = f"Sent a message that opened the conversation: {said}"
    else:
        words = f"Started the conversation: {said}" if said else "Started the conversation"
    if e.subject:
        words += f", subject {quoted(e.subject)}"
    words += _files(e.attachments)
    if e.assignee:
        words += f"; assigned to {c.people.admin(e.assignee)['name']}"
    return words


def _replied(e: Any, c: Context) -> str:
    part = e.part
    kind, said = part["part_type"], quoted(part["body"])
    if kind == "comment":
        to = "Replied to the user" if part["author"]["type"] == "admin" else "Wrote"
        return f"{to}: {said}{_files(part.get('attachments', []))}"
    if kind == "note":
        return f"Added a private note (never shown to the user): {said}"
    if kind == "assignment":
        assignee = c.people.admin(part["assigned_to"])["name"] if part["assigned_to"] else "nobody"
        return f"Assigned the conversation to {assignee}" + (f", noting {said}" if said else "")
    done = "Closed" if kind == "close" else "Reopened"
    return f"{done} the conversation" + (f", noting {said}" if said else "")


def _notifying(e: Any, c: Context) -> str:
    if list(e.admin_ids) == [USER]:
        address = c.people.user_email() or "the user's address"
        return f"Emailed the answer {c.part(e.part_id)} to the user at {address}"
    told = ", ".join(f"{r['name']} <{r['email']}>" for r in c.recipients(e))
    return f"Emailed a notification of {c.part(e.part_id)} to {told}"


def _read(e: Any, c: Context) -> str:
    if not e.parts:
        return "Read the opening message"
    return f"Read the conversation up to part {e.parts} (everything so far)"


def _received(e: Any, c: Context) -> str:
    subject = f", subject {quoted(e.subject)}" if e.subject else ""
    became = f"posted as {c.part(e.part_id)}" if e.part_id else "which started the conversation"
    # An email without a Message-ID is recorded under its SHA-256 (commands/inbound.py).
    named = (
        "without a Message-ID" if e.email_id.startswith("<sha256:") else f"Message-ID {e.email_id}"
    )
    return f"Received an email, {named}{subject} ({e.size:,} bytes), {became}"


def _to_user(c: Context) -> str:
    return c.people.user_email() or "the user"


Sentence = Callable[[Any, Context], str]
SENTENCES: dict[str, Sentence] = {
    "Conversation.Started": _started,
    "Conversation.Replied": _replied,
    "Conversation.Notifying": _notifying,
    "Conversation.Read": _read,
    "InboundEmail.Received": _received,
    "Delivery.Claimed": lambda e, c: f"The message's email to {_to_user(c)} was claimed to send",
    "Delivery.Sending": lambda e, c: f"Sending the message's email to {_to_user(c)}",
    "Delivery.Sent": lambda e, c: f"The mail server accepted the email to {_to_user(c)}",
    "Delivery.Deferred": lambda e, c: f"The mail server refused the email for now: {e.error}",
    "Delivery.Uncertain": lambda e, c: (
        "A send was interrupted without an answer: the email may not have gone out "
        "(it is never sent twice)"
    ),
    "Delivery.Skipped": lambda e, c: f"The email was not sent: {e.reason}",
    "Delivery.Opened": lambda e, c: "Opened the email",
    "Delivery.Clicked": lambda e, c: f"Clicked a link in the email: {e.url}",
    "Delivery.Unsubscribed": lambda e, c: "Unsubscribed from emails with the email's link",
}
