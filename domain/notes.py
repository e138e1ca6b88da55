"""Notes on users (Intercom's "notes"): what a teammate writes down about a user for the team,
never shown to the user. A note is written once and never changed: one aggregate, one event.

The body is kept as the sanitised HTML the team reads. Through the REST API it is HTML, as
Intercom's clients send it (`<p>Called on Monday</p>`); text with no tags in it, and whatever
a teammate types on the dashboard, is read as a conversation part is (Markdown, any HTML in
it escaped), so plain words come back as paragraphs.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from uuid import UUID, uuid4

import nh3
from eventsourcing.domain import Aggregate, event

from domain.content import conversation_html, sanitise, shows_something
from domain.errors import InvalidValue

MAX_BODY = 100_000  # characters, as a conversation part
MARKUPS = ("html", "text")
# Where a note was written: the REST API or the team's dashboard (the activity says which).
CHANNELS = ("api", "dashboard")
A_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*[\s/>]")
BLOCK = re.compile(r"<(p|div|ul|ol|h[1-6]|blockquote|pre|table|hr)\b")
BREAK = re.compile(r"<br\s*/?>|</(p|div|li|h[1-6]|tr|td|th|blockquote|pre)>")


def note_html(body: str, markup: str) -> str:
    """The note's body as the team reads it, refused (naming `body`) when nothing is left."""
    if not body.strip():
        raise InvalidValue("body", "cannot be empty")
    if len(body) > MAX_BODY:
        raise InvalidValue("body", f"at most {MAX_BODY} characters")
    if markup not in MARKUPS:
        raise InvalidValue("markup", f"expected one of {', '.join(MARKUPS)}")
    if markup == "html" and A_TAG.search(body):
        shown = sanitise(body).strip()
        if shown and not BLOCK.search(shown):
            shown = f"<p>{shown}</p>"
    else:
        shown = conversation_html(body)
    if not shows_something(shown):
        raise InvalidValue(
            "body",
            "nothing is left after sanitising: write some words (tags outside the allowed "
            "list, and what is inside them, are removed)",
        )
    return shown


def note_text(shown: str) -> str:
    """A note's words as plain text, blocks and line breaks as spaces (for one-line views)."""
    return " ".join(html.unescape(nh3.clean(BREAK.sub(" ", shown), tags=set())).split())


class Note(Aggregate):
    @staticmethod
    def create_id(note_id: str) -> UUID:
        return UUID(hex=note_id)

    @classmethod
    def write(
        cls,
        *,
        app_id: str,
        user_key: str,
        admin_id: str | None,
        body: str,
        markup: str,
        via: str,
        at: datetime,
    ) -> Note:
        """A new note on the user, by the teammate `admin_id` (None: the API named no one)."""
        if via not in CHANNELS:
            raise InvalidValue("via", f"expected one of {', '.join(CHANNELS)}")
        return cls(
            note_id=uuid4().hex,
            app_id=app_id,
            user_key=user_key,
            admin_id=admin_id,
            body=note_html(body, markup),
            via=via,
            at=at,
        )

    @event("Created")
    def __init__(
        self,
        note_id: str,
        app_id: str,
        user_key: str,
        admin_id: str | None,
        body: str,
        via: str,
        at: datetime,
    ) -> None:
        self.note_id = note_id
        self.app_id = app_id
        self.user_key = user_key
        self.admin_id = admin_id
        self.body = body
        self.via = via
        self.created_at = int(at.timestamp())
