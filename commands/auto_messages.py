"""Auto messages (seed: "Auto Messages"): shown to each user the first time they match.

Each page view checks the app's live in-app auto messages against the user as they now stand.
A message that matches for the first time is recorded on the user, in the same atomic save as
the page view: two page views racing for one user collide on the user's version, the loser
retries on fresh state and sees the message already shown, so it goes out exactly once.
Apps without auto messages pay one in-memory lookup per ping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from commands.clock import Clock
from commands.errors import MessageNotFound
from commands.store import Parley
from domain.company import Company
from domain.content import Body, compile_body, shows_something, user_variables
from domain.errors import InvalidValue
from domain.filters import Filter, conditions, parse_filter
from domain.matching import no_segments, profile_of
from domain.messages import AutoMessages, Message, auto_messages_key
from domain.segments import Segments, segments_key
from domain.showing import deliver_manual, due_candidates, matching, still_waiting
from domain.tags import Tags, tags_key
from domain.user import User

log = logging.getLogger("parley.messages")


@dataclass(frozen=True)
class ComposeAutoMessage:
    """A new auto message, live at once (the fields of Message.compose, kind="auto")."""

    app_id: str
    message_type: str
    admin_id: str
    subject: str | None
    body: str
    markup: str
    style: str | None
    custom_keys: set[str]
    audience: dict[str, Any] | None
    url_pattern: str | None = None
    stop_at: int | None = None
    unsubscribe_link: bool | None = None  # emails: None, as bulk ones, carries one


@dataclass(frozen=True)
class QueueInApp:
    """A saved manual in-app message reaches one of its users (the fan-out's, one each)."""

    message_id: str
    user_key: str


@dataclass(frozen=True)
class SendInApp:
    """A new manual in-app message to one user: `compose` makes it on each attempt."""

    user_key: str


@dataclass(frozen=True)
class StopMessage:
    app_id: str
    message_id: str


@dataclass(frozen=True)
class EditMessage:
    """A new version of the content (subject, body, markup, style); conditions stay."""

    app_id: str
    message_id: str
    content: dict[str, Any]
    custom_keys: set[str]


@dataclass(frozen=True)
class MarkDispatched:
    """Every copy of a manual message is claimed or queued: it is never fanned out again."""

    message_id: str
    recipients: int


def compose_auto_message(cmd: ComposeAutoMessage, store: Parley, clock: Clock) -> Message:
    message = Message.compose(kind="auto", at=clock.now(), **asdict(cmd))
    index = store.get_as(AutoMessages, auto_messages_key(message.app_id))
    index = index or AutoMessages(app_id=message.app_id)
    index.add(message.message_id)
    store.save_all(message, index)
    return message


def queue_in_app(cmd: QueueInApp, store: Parley, clock: Clock) -> bool:
    """A popup waits on the user for their next visit; an inbox message lands in their inbox
    at once (idempotent: a job that runs twice sends once). The message is read as the
    fan-out's other users see it (at most 2 s old: no query per user)."""
    message = store.recent(Message, UUID(hex=cmd.message_id))
    user = store.get_as(User, UUID(hex=cmd.user_key))
    if message is None or user is None or user.deleted:
        return False
    opened = deliver_manual(user, message, showable, clock.now())
    store.save_all(user, *opened)
    return True


def send_in_app(
    cmd: SendInApp, store: Parley, clock: Clock, *, compose: Callable[[], Message]
) -> Message:
    """Saved together with its copy waiting on the user, or in their inbox (composed afresh
    on each attempt, as the user may have changed meanwhile)."""
    message = compose()
    user = store.get_as(User, UUID(hex=cmd.user_key))
    assert user is not None
    opened = deliver_manual(user, message, showable, clock.now())
    message.dispatch(1, clock.now())
    store.save_all(message, user, *opened)
    return message


def stop_message(cmd: StopMessage, store: Parley, clock: Clock) -> Message:
    """The message is no longer shown to anyone who has not seen it yet (an auto message
    leaves the app's live list; a manual in-app one is withdrawn at each user's next visit)."""
    message = _message(store, cmd.app_id, cmd.message_id)
    message.stop(clock.now())
    index = store.get_as(AutoMessages, auto_messages_key(cmd.app_id))
    if index is not None:
        index.remove(cmd.message_id)
    store.save_all(message, *([index] if index is not None else []))
    return message


def edit_message(cmd: EditMessage, store: Parley, clock: Clock) -> Message:
    message = _message(store, cmd.app_id, cmd.message_id)
    content = cmd.content
    message.edit(
        content.get("subject"),
        content["body"],
        content.get("markup") or message.versions[-1]["markup"],
        content.get("style"),
        cmd.custom_keys,
        clock.now(),
    )
    store.save_all(message)
    return message


def mark_dispatched(cmd: MarkDispatched, store: Parley, clock: Clock) -> None:
    message = store.get_as(Message, UUID(hex=cmd.message_id))
    if message is not None:
        message.dispatch(cmd.recipients, clock.now())
        store.save_all(message)


def _message(store: Parley, app_id: str, message_id: str) -> Message:
    message = store.get_as(Message, UUID(hex=message_id))
    if message is None or message.app_id != app_id:
        raise MessageNotFound(f"message {message_id!r}")
    return message


_AUDIENCES: dict[str, Filter] = {}


def audience_of(message: Message) -> Filter:
    """A message's filter, parsed once per process: conditions never change."""
    found = _AUDIENCES.get(message.message_id)
    if found is None:
        assert message.audience is not None
        if len(_AUDIENCES) > 4096:
            _AUDIENCES.clear()
        found = _AUDIENCES[message.message_id] = parse_filter(message.audience)
    return found


def due_in_app(store: Parley, user: User, url: str | None, now: datetime) -> list[Message]:
    """The app's in-app auto messages this user matches now for the first time, on this page
    (the rule: domain/showing.py)."""
    index = store.recent(AutoMessages, auto_messages_key(user.app_id))
    if index is None or not index.live:
        return []
    live = (
        store.recent(Message, UUID(hex=message_id))
        for message_id in index.live
        if not user.had_message(message_id)
    )
    candidates = [(m, audience_of(m)) for m in due_candidates(user, url, now, live)]
    if not candidates:
        return []
    tags = store.recent(Tags, tags_key(user.app_id))
    segments = store.recent(Segments, segments_key(user.app_id))
    needs_companies = any(c.scope == "company" for _, f in candidates for c in conditions(f))
    companies = (
        [c for key in user.companies if (c := store.get_as(Company, UUID(hex=key))) is not None]
        if needs_companies
        else []
    )
    profile = profile_of(user, companies, set(tags.names) if tags else set())
    lookup = segments.definition if segments else no_segments
    return matching(candidates, profile, now, lookup)


def waiting_in_app(store: Parley, user: User, now: datetime) -> list[Message]:
    """Manual in-app messages a teammate sent this user since their last visit, oldest first;
    one stopped meanwhile is withdrawn instead (both recorded by the caller's save)."""
    waiting = {i: store.recent(Message, UUID(hex=i)) for i in user.messages_waiting}
    return still_waiting(user, waiting, now)


@lru_cache(maxsize=1024)
def _compiled(message_id: str, version: int, source: str, markup: str) -> Body:
    return compile_body(source, markup, None)


def shown(message: Message, user: User) -> dict[str, Any]:
    """What the widget displays: the current version, with this user's values."""
    version = len(message.versions) - 1
    written = message.versions[version]
    values = user_variables(user)
    body = _compiled(message.message_id, version, written["body"], written["markup"])
    subject = written["subject"]
    if subject:
        subject = _compiled(message.message_id, version, subject, "markdown").render(values)[1]
    return {
        "type": "message",
        "id": message.message_id,
        "message_type": message.message_type,
        "subject": subject,
        "body": body.render(values)[0],
    }


def showable(message: Message, user: User) -> dict[str, Any] | None:  # a showing.Content
    """What the widget displays, or None when the message would show this user nothing (its
    body, with their values, is empty, or cannot be read): logged, and the caller skips it."""
    try:
        content = shown(message, user)
    except InvalidValue as error:
        log.warning("message %s cannot be shown: %s", message.message_id, error)
        return None
    if not shows_something(content["body"]):
        log.warning("message %s shows user %s nothing; skipped", message.message_id, user.id.hex)
        return None
    return content


def live_messages(store: Parley, app_id: str) -> list[Message]:
    index = store.get_as(AutoMessages, auto_messages_key(app_id))
    found = [store.get_as(Message, UUID(hex=i)) for i in (index.live if index else [])]
    return [m for m in found if m is not None]
