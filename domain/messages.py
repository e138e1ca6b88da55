"""Messages (seed: "Messages", "Manual Messages", "Auto Messages", "Stopping/Editing Messages").

A manual message goes to chosen users, to everyone a filter matches now, or to all users, at
once. An auto message goes to each user the first time they match its filter, optionally only
on pages whose URL matches, until it is stopped or its stop date passes. Content can be edited:
each edit is a new version, and copies already delivered keep the version they got. Conditions
(who, where, until when) cannot be edited. An email, once sent, cannot be edited or stopped.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.content import compile_body
from domain.errors import InvalidValue
from domain.filters import parse_filter
from domain.identity import NAMESPACE

TYPES = ("conversation", "announcement", "notification", "inbox", "email")
MARKUPS = ("markdown", "html")
STYLES = ("official", "personal")
MAX_SUBJECT = 255
MAX_URL_PATTERN = 2048
# A page's whole address as the widget reports it, `*` standing for any text: it begins
# with the scheme or with `*`, and holds no space (an address never does).
URL_PATTERN = re.compile(r"^(https?://|\*)[^\s]*$", re.IGNORECASE)


def check_content(
    message_type: str,
    subject: str | None,
    body: str,
    markup: str,
    style: str | None,
    custom_keys: set[str],
) -> None:
    """Refuse, when written, what could not be sent: bad variables, markup, subject, style."""
    if markup not in MARKUPS:
        raise InvalidValue("markup", f"expected one of {', '.join(MARKUPS)}")
    if not body.strip():
        raise InvalidValue("body", "a message needs a body")
    compile_body(body, markup, custom_keys)
    if subject is not None:
        if len(subject) > MAX_SUBJECT:
            raise InvalidValue("subject", f"at most {MAX_SUBJECT} characters")
        compile_body(subject, "markdown", custom_keys, field="subject")
    if message_type == "email":
        if not (subject or "").strip():
            raise InvalidValue("subject", "an email needs a subject")
        if style not in STYLES:
            raise InvalidValue("template", f"expected one of {', '.join(STYLES)}")


def check_conditions(url_pattern: str | None, stop_at: int | None, at: datetime) -> None:
    """Refuse a URL restriction no page address could match, and a stop date already past."""
    if url_pattern is not None and (
        len(url_pattern) > MAX_URL_PATTERN or not URL_PATTERN.match(url_pattern)
    ):
        raise InvalidValue(
            "url",
            "a page's whole address, * for any text, without spaces: "
            "https://app.example.com/billing* or */billing*",
        )
    if stop_at is not None and stop_at <= int(at.timestamp()):
        raise InvalidValue("stop_at", "the stop date has passed already: choose a later one")


def _version(
    subject: str | None, body: str, markup: str, style: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "subject": subject,
        "body": body,
        "markup": markup,
        "style": style,
        "at": int(at.timestamp()),
    }


class Message(Aggregate):
    @staticmethod
    def create_id(app_id: str, message_id: str) -> UUID:
        return UUID(hex=message_id)

    @classmethod
    def compose(
        cls,
        *,
        app_id: str,
        kind: str,
        message_type: str,
        admin_id: str,
        subject: str | None,
        body: str,
        markup: str,
        style: str | None,
        custom_keys: set[str],
        at: datetime,
        audience: dict[str, Any] | None = None,
        recipients: list[str] | None = None,
        url_pattern: str | None = None,
        stop_at: int | None = None,
        unsubscribe_link: bool | None = None,
    ) -> Message:
        """A new message, refused with the field named if any part of it cannot be sent.
        `unsubscribe_link`: whether its emails carry one (None: bulk ones do)."""
        if kind not in ("manual", "auto"):
            raise InvalidValue("kind", "expected manual or auto")
        if message_type not in TYPES:
            raise InvalidValue("message_type", f"expected one of {', '.join(TYPES)}")
        check_content(message_type, subject, body, markup, style, custom_keys)
        if audience is not None:
            parse_filter(audience)
        if kind == "auto" and audience is None:
            raise InvalidValue("filter", "an auto message goes to the users a filter matches")
        if kind == "auto" and recipients is not None:
            raise InvalidValue("to", "an auto message has a filter, not a list of users")
        if kind == "manual" and (url_pattern is not None or stop_at is not None):
            raise InvalidValue("url", "only auto messages have a URL restriction or stop date")
        if message_type == "email" and url_pattern is not None:
            raise InvalidValue("url", "emails are not shown on pages")
        check_conditions(url_pattern, stop_at, at)
        return cls(
            app_id=app_id,
            message_id=uuid4().hex,
            kind=kind,
            message_type=message_type,
            admin_id=admin_id,
            audience=audience,
            recipients=recipients,
            url_pattern=url_pattern,
            stop_at=stop_at,
            version=_version(subject, body, markup, style, at),
            unsubscribe_link=unsubscribe_link if message_type == "email" else None,
        )

    @event("Created")
    def __init__(
        self,
        app_id: str,
        message_id: str,
        kind: str,
        message_type: str,
        admin_id: str,
        audience: dict[str, Any] | None,
        recipients: list[str] | None,
        url_pattern: str | None,
        stop_at: int | None,
        version: dict[str, Any],
        unsubscribe_link: bool | None = None,  # None in events recorded before the choice
    ) -> None:
        self.app_id = app_id
        self.message_id = message_id
        self.kind = kind
        self.message_type = message_type
        self.admin_id = admin_id
        self.audience = audience
        self.recipients = recipients
        self.url_pattern = url_pattern
        self.stop_at = stop_at
        self.versions = [version]
        self.unsubscribe_link = unsubscribe_link
        self.stopped_at: int | None = None
        self.dispatched_at: int | None = None

    @property
    def current(self) -> dict[str, Any]:
        return dict(self.versions[-1])

    @property
    def with_unsubscribe_link(self) -> bool:
        """Whether its emails carry an unsubscribe link: as chosen, else when bulk."""
        if self.unsubscribe_link is not None:
            return self.unsubscribe_link
        return self.recipients is None

    @property
    def is_sent_email(self) -> bool:
        """A manual email went out when it was composed: there is no taking it back."""
        return self.message_type == "email" and self.kind == "manual"

    def live(self, now: datetime) -> bool:
        """Still to be shown or sent: not stopped, stop date not reached."""
        moment = int(now.timestamp())
        return self.stopped_at is None and (self.stop_at is None or moment < self.stop_at)

    def shows_on(self, url: str | None) -> bool:
        """Whether an in-app auto message may appear on this page (`*` matches any text)."""
        if self.url_pattern is None:
            return True
        return url is not None and fnmatch.fnmatchcase(url.lower(), self.url_pattern.lower())

    def edit(
        self,
        subject: str | None,
        body: str,
        markup: str,
        style: str | None,
        custom_keys: set[str],
        at: datetime,
    ) -> None:
        """A new version of the content; the conditions stay as they were."""
        if self.is_sent_email:
            raise InvalidValue("id", "an email, once sent, cannot be edited")
        check_content(self.message_type, subject, body, markup, style, custom_keys)
        self._edited(_version(subject, body, markup, style, at))

    @event("Edited")
    def _edited(self, version: dict[str, Any]) -> None:
        self.versions.append(version)

    def stop(self, at: datetime) -> None:
        if self.is_sent_email:
            raise InvalidValue("id", "an email, once sent, cannot be stopped")
        if self.stopped_at is None:
            self._stopped(int(at.timestamp()))

    @event("Stopped")
    def _stopped(self, at: int) -> None:
        self.stopped_at = at

    def dispatch(self, recipients: int, at: datetime) -> None:
        """A manual message reached the queue of every recipient (emails queued, in-app
        messages waiting on users): the sweep need not send it again."""
        if self.dispatched_at is None:
            self._dispatched(recipients, int(at.timestamp()))

    @event("Dispatched")
    def _dispatched(self, recipients: int, at: int) -> None:
        self.dispatched_at = at


def auto_messages_key(app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/auto-messages")


class AutoMessages(Aggregate):
    """The app's live auto messages: what each page view checks (held a moment per process)."""

    @staticmethod
    def create_id(app_id: str) -> UUID:
        return auto_messages_key(app_id)

    @event("Started")
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.live: list[str] = []

    @event("Added")
    def add(self, message_id: str) -> None:
        self.live.append(message_id)

    def remove(self, message_id: str) -> None:
        if message_id in self.live:
            self._removed(message_id)

    @event("Removed")
    def _removed(self, message_id: str) -> None:
        self.live.remove(message_id)
