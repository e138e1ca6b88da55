"""The words of a user's activity: one line per event, in plain words, with where it came
from (snippet, REST API, teammate, email) and the conversation or message it links to.

WORDS is the table, one function per event type a teammate would care about; each gets the
event and the facts its page gathered (names of tags, companies, teammates and messages, the
values an update replaced) and returns its line, or None when another line says it already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from domain.content import compile_body
from domain.conversations import Conversation
from domain.delivery import Delivery
from domain.errors import InvalidValue
from domain.notes import Note, note_text
from domain.user import User
from domain.values import is_date_key
from projections.events import event_class

Link = tuple[str, str]
Said = tuple[str, str | None, Link | None]  # words, source, link
MISSING = object()  # a custom attribute the user did not have yet
SOURCES = {
    "snippet": "snippet",
    "widget": "snippet",
    "in-app": "snippet",
    "api": "REST API",
    "email": "email",
    "link": "email",
    "admin": "teammate",
}
ATTRIBUTES = {"signed_up_at": "signed-up date"}  # the others read as they are named
LONGEST = 80


@dataclass(frozen=True)
class Facts:
    """What the lines of one page need to know beyond their own events."""

    admins: Mapping[str, str]  # admin id -> name
    tags: Mapping[str, str]  # tag id -> name (live tags)
    companies: Mapping[str, str]  # company key -> name
    messages: Mapping[str, dict[str, Any]]  # message id -> kind, admin_id, versions
    conversation_of_message: Mapping[str, str]  # message id -> the user's conversation
    deliveries: Mapping[str, str]  # delivery id -> message id
    emailed: Callable[[str], Link]  # where a line about this message's email links
    earlier: Mapping[int, dict[str, Any]]  # update's version -> values before it

    def teammate(self, admin_id: str | None) -> str:
        return self.admins.get(admin_id or "", "a teammate")

    def message(self, message_id: str, version: int | None = None) -> str:
        """A message as teammates know it: its subject, else its first words, quoted."""
        found = self.messages.get(message_id)
        if found is None or not found["versions"]:
            return "a message"
        versions = found["versions"]
        written = versions[min(version, len(versions) - 1)] if version is not None else versions[-1]
        return f"“{excerpt(words_of(written), 60)}”"

    def sender(self, message_id: str) -> str:
        """Who a message is from: " (auto message)" or " by Ada"."""
        found = self.messages.get(message_id)
        if found is None:
            return ""
        return (
            " (auto message)"
            if found["kind"] == "auto"
            else f" by {self.teammate(found['admin_id'])}"
        )

    def in_app_link(self, message_id: str) -> Link:
        talk = self.conversation_of_message.get(message_id)
        return ("conversation", talk) if talk else ("message", message_id)


def excerpt(text: str | None, size: int = LONGEST) -> str:
    """Words on one line, as they were written, cut with an ellipsis."""
    plain = " ".join((text or "").split())
    return plain if len(plain) <= size else plain[: size - 1].rstrip() + "…"


def words_of(written: Mapping[str, Any]) -> str:
    """A message's subject, else its body, as plain text; a variable shows its fallback, or
    its name in brackets."""
    source, markup = written.get("subject"), "markdown"
    if not source:
        source, markup = written.get("body") or "", written.get("markup") or "markdown"
    try:
        body = compile_body(str(source), markup, None)
    except InvalidValue:  # refused when written: never stored
        return str(source)
    return body.render({v.name: v.fallback or f"[{v.name}]" for v in body.variables})[1]


def shown_value(key: str, value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict) and set(value) == {"url", "value"}:  # an event's link
        return excerpt(f"{value['value']} ({value['url']})", 60)
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:  # an event's price
        return f"{value['amount'] / 100:,.2f} {str(value['currency']).upper()}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_date_key(key) and isinstance(value, int | float):
        at = datetime.fromtimestamp(value, UTC)
        return f"{at.day} {at:%b %Y}"
    return excerpt(str(value), 60)


def page(url: str) -> str:
    """The page of a URL as a teammate reads it: its path and query."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return excerpt(path if parts.netloc else url)


def _by(facts: Facts, event: Any) -> tuple[str, str | None]:
    """(" by Ada" or "", source) from an event's `by`, when it was recorded."""
    by = getattr(event, "by", None)
    if by in facts.admins:
        return f" by {facts.teammate(by)}", "teammate"
    return "", SOURCES.get(by or "", by)


# -- the user's own events ---------------------------------------------------------------


def created(facts: Facts, e: Any) -> Said:
    known = [f"{k} {v}" for k, v in (("user_id", e.user_id), ("email", e.email)) if v]
    return f"Became a user ({', '.join(known)})" if known else "Became a user", None, None


def restored(facts: Facts, e: Any) -> Said:
    return "Seen again after being deleted: a new record", None, None


def deleted(facts: Facts, e: Any) -> Said:
    return "Deleted", None, None


def seen(facts: Facts, e: Any) -> Said:
    words = f"Seen on {page(e.url)}" if e.url else "Active"
    place = e.city or e.country
    if place:
        words += f" from {place}"
    if e.new_session:
        words += ", new session"
        if e.source:
            came = e.source.removeprefix("utm:")
            words += f" (utm_source {came})" if came != e.source else f" (from {came})"
    return words, SOURCES.get(e.via, e.via), None


def _change(label: str, key: str, before: Any, after: Any) -> str:
    if before is MISSING or before is None:
        return f"{label} set to {shown_value(key, after)}"
    if after is None:
        return f"{label} cleared (was {shown_value(key, before)})"
    return f"{label} changed from {shown_value(key, before)} to {shown_value(key, after)}"


def updated(facts: Facts, e: Any) -> Said:
    before = facts.earlier.get(e.originator_version, {})
    changes = [
        _change(ATTRIBUTES.get(key, key), key, before.get(key, MISSING), value)
        for key, value in e.attributes.items()
    ]
    changes += [
        _change(f"custom {key}", key, before.get(f"custom.{key}", MISSING), value)
        for key, value in e.custom.items()
    ]
    words = "; ".join(changes[:4])
    if len(changes) > 4:
        words += f"; and {len(changes) - 4} more"
    return words, _by(facts, e)[1], None


def unsubscribe_set(facts: Facts, e: Any) -> Said:
    words = "Unsubscribed from emails" if e.unsubscribed else "Resubscribed to emails"
    if e.by == "link":
        words += " with an email's link"
    return words, SOURCES.get(e.by, e.by), None


def company_change(verb: str) -> Callable[[Facts, Any], Said]:
    def said(facts: Facts, e: Any) -> Said:
        by, source = _by(facts, e)
        name = facts.companies.get(e.company_key)
        return f"{verb} {f'company {name}' if name else 'a company'}{by}", source, None

    return said


def tag_change(verb: str) -> Callable[[Facts, Any], Said]:
    def said(facts: Facts, e: Any) -> Said:
        by, source = _by(facts, e)
        return f"{verb} {facts.tags.get(e.tag_id, 'an unknown tag')}{by}", source, None

    return said


def tracked(facts: Facts, e: Any) -> Said:
    details = ", ".join(f"{k}: {shown_value(k, v)}" for k, v in list(e.metadata.items())[:3])
    more = ", …" if len(e.metadata) > 3 else ""
    words = f"Tracked {excerpt(e.name)}" + (f" ({details}{more})" if details else "")
    return words, _by(facts, e)[1], None


def in_app(template: str, source: str | None) -> Callable[[Facts, Any], Said]:
    """A line about an in-app message: `template` names it {message} and its {sender}."""

    def said(facts: Facts, e: Any) -> Said:
        name = facts.message(e.message_id, getattr(e, "version", None))
        words = template.format(message=name, sender=facts.sender(e.message_id))
        if getattr(e, "url", None):
            words += f": {excerpt(e.url)}"
        return words, source, facts.in_app_link(e.message_id)

    return said


# -- conversations -----------------------------------------------------------------------


def _author(facts: Facts, author: Mapping[str, str]) -> str | None:
    """A teammate's name, or None for the user."""
    return facts.teammate(author.get("id")) if author.get("type") == "admin" else None


def _quoted(body: str | None, attachments: list[Any]) -> str:
    if body and body.strip():
        return f": “{excerpt(body)}”"
    return f" ({len(attachments)} attachment{'s' if len(attachments) != 1 else ''})"


def started(facts: Facts, e: Any) -> Said | None:
    if e.message_id is not None:
        return None  # a message that opened it: its own line says it was shown or emailed
    teammate = _author(facts, e.author)
    link = ("conversation", e.conversation_id)
    about = _quoted(e.subject or e.body, e.attachments)
    if teammate is not None:
        return f"{teammate} started a conversation{about}", "teammate", link
    return f"Started a conversation{about}", SOURCES.get(e.via or "", e.via), link


PART_WORDS = {
    "note": "{who} added a note{about}",
    "assignment": "{who} assigned the conversation to {assignee}",
    "close": "{who} closed the conversation",
    "open": "{who} reopened the conversation",
}


def replied(facts: Facts, e: Any) -> Said:
    part = e.part
    link = ("conversation", e.originator_id.hex)
    teammate = _author(facts, part["author"])
    about = _quoted(part.get("body"), part.get("attachments") or [])
    if teammate is None:
        return f"Replied{about}", SOURCES.get(part.get("via") or "", part.get("via")), link
    if part["part_type"] == "comment":
        return f"{teammate} replied{about}", "teammate", link
    words = PART_WORDS[part["part_type"]].format(
        who=teammate, about=about, assignee=facts.teammate(part.get("assigned_to"))
    )
    if part["part_type"] != "note" and part.get("body"):
        words += f", noting “{excerpt(part['body'])}”"
    return words, "teammate", link


def read(facts: Facts, e: Any) -> Said | None:
    if e.reader.get("type") != "user":
        return None  # a teammate's reading is not the user's activity
    return "Read the conversation", None, ("conversation", e.originator_id.hex)


# -- notes on the user -------------------------------------------------------------------


def noted(facts: Facts, e: Any) -> Said:
    """A note's line: who wrote it, where, and its first words (its body is sanitised HTML)."""
    about = f": “{excerpt(note_text(e.body))}”"
    source = "REST API" if e.via == "api" else "teammate"
    if e.admin_id is None:
        return f"Note added{about}", source, None
    return f"{facts.teammate(e.admin_id)} added a note{about}", source, None


# -- email deliveries --------------------------------------------------------------------


def email(template: str) -> Callable[[Facts, Any], Said]:
    """A line about the user's copy of an email: `template` names it {message}, its
    {sender}, and what went wrong ({why})."""

    def said(facts: Facts, e: Any) -> Said:
        message_id = facts.deliveries.get(e.originator_id.hex, getattr(e, "message_id", ""))
        why = excerpt(getattr(e, "error", None) or getattr(e, "reason", None))
        words = template.format(
            message=facts.message(message_id), sender=facts.sender(message_id), why=why
        )
        if getattr(e, "url", None):
            words += f": {excerpt(e.url)}"
        return words, "email", facts.emailed(message_id)

    return said


def user_event(name: str) -> type[Any]:
    return event_class(User, name)


WORDS: dict[type[Any], Callable[[Facts, Any], Said | None]] = {
    user_event("Created"): created,
    user_event("Seen"): seen,
    user_event("Updated"): updated,
    user_event("UnsubscribeSet"): unsubscribe_set,
    user_event("JoinedCompany"): company_change("Joined"),
    user_event("LeftCompany"): company_change("Left"),
    user_event("Tagged"): tag_change("Tagged"),
    user_event("Untagged"): tag_change("Untagged"),
    user_event("EventTracked"): tracked,
    user_event("AutoMessageShown"): in_app("Shown {message}{sender}", "snippet"),
    user_event("MessageQueued"): in_app("Sent {message}{sender}", "teammate"),
    user_event("MessageShown"): in_app("Shown {message}{sender}", "snippet"),
    user_event("MessageNotShown"): in_app("Not shown {message}: it would show nothing", None),
    user_event("MessageWithdrawn"): in_app("Not shown {message}: stopped before the visit", None),
    user_event("MessageViewed"): in_app("Viewed {message}", "snippet"),
    user_event("MessageClicked"): in_app("Clicked a link in {message}", "snippet"),
    user_event("Deleted"): deleted,
    user_event("Restored"): restored,
    event_class(Conversation, "Started"): started,
    event_class(Conversation, "Replied"): replied,
    event_class(Conversation, "Read"): read,
    event_class(Note, "Created"): noted,
    event_class(Delivery, "Sent"): email("Emailed {message}{sender}"),
    event_class(Delivery, "Deferred"): email("Email {message} not sent yet: {why}"),
    event_class(Delivery, "Uncertain"): email("Email {message} may not have gone out"),
    event_class(Delivery, "Skipped"): email("Email {message} not sent: {why}"),
    event_class(Delivery, "Opened"): email("Opened the email {message}"),
    event_class(Delivery, "Clicked"): email("Clicked a link in the email {message}"),
}
