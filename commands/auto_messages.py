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
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from commands.clock import Clock
from commands.conversations import conversation_for
from commands.errors import MessageNotFound
from commands.store import Parley, retry_on_conflict
from domain.company import Company
from domain.content import Body, compile_body, shows_something, user_variables
from domain.conversations import Conversation
from domain.errors import InvalidValue
from domain.filters import Filter, conditions, parse_filter
from domain.matching import matches, profile_of
from domain.messages import AutoMessages, Message, auto_messages_key
from domain.segments import Segments, segments_key
from domain.tags import Tags, tags_key
from domain.user import User

log = logging.getLogger("parley.messages")


def compose_auto_message(store: Parley, **fields: Any) -> Message:
    """A new auto message, live at once (the fields of Message.compose, kind="auto")."""

    def attempt() -> Message:
        message = Message.compose(kind="auto", **fields)
        index = store.get_as(AutoMessages, auto_messages_key(message.app_id))
        index = index or AutoMessages(app_id=message.app_id)
        index.add(message.message_id)
        store.save_all(message, index)
        return message

    return retry_on_conflict(attempt)


def queue_in_app(store: Parley, message: Message, user_key: UUID, clock: Clock) -> bool:
    """A saved manual in-app message waits on the user for their next visit; an inbox
    message lands in their inbox at once (idempotent: a job that runs twice sends once)."""

    def attempt() -> bool:
        user = store.get_as(User, user_key)
        if user is None or user.deleted:
            return False
        opened = _deliver(user, message, clock.now())
        store.save_all(user, *opened)
        return True

    return retry_on_conflict(attempt)


def send_in_app(store: Parley, compose: Callable[[], Message], user: User, clock: Clock) -> Message:
    """A new manual in-app message to one user, saved together with its copy waiting on
    them, or in their inbox (composed afresh if the user changed meanwhile)."""

    def attempt() -> Message:
        message = compose()
        fresh = store.get_as(User, user.id)
        assert fresh is not None
        opened = _deliver(fresh, message, clock.now())
        message.dispatch(1, clock.now())
        store.save_all(message, fresh, *opened)
        return message

    return retry_on_conflict(attempt)


def _deliver(user: User, message: Message, now: datetime) -> list[Conversation]:
    """Popups wait for the user's next visit; an inbox message is delivered now, opening
    its conversation (returned, to be saved with the user)."""
    if message.message_type != "inbox":
        user.queue_message(message.message_id, now)
        return []
    if user.had_message(message.message_id):
        return []
    user.queue_message(message.message_id, now)
    content = showable(message, user)
    if content is None:
        user.message_not_shown(message.message_id, len(message.versions) - 1, "empty", now)
        return []
    user.message_shown(message.message_id, len(message.versions) - 1, now)
    user.message_sent(now)  # seed: manual messages add to the relationship score
    return [conversation_for(message, user, content["body"], now)]


def stop_message(store: Parley, app_id: str, message_id: str, clock: Clock) -> Message:
    """The message is no longer shown to anyone who has not seen it yet (an auto message
    leaves the app's live list; a manual in-app one is withdrawn at each user's next visit)."""

    def attempt() -> Message:
        message = store.get_as(Message, UUID(hex=message_id))
        if message is None or message.app_id != app_id:
            raise MessageNotFound(f"message {message_id!r}")
        message.stop(clock.now())
        index = store.get_as(AutoMessages, auto_messages_key(app_id))
        if index is not None:
            index.remove(message_id)
        store.save_all(message, *([index] if index is not None else []))
        return message

    return retry_on_conflict(attempt)


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
    """The app's in-app auto messages this user matches now for the first time, on this page."""
    index = store.recent(AutoMessages, auto_messages_key(user.app_id))
    if index is None or not index.live:
        return []
    candidates = []
    for message_id in index.live:
        if user.had_message(message_id):
            continue
        message = store.recent(Message, UUID(hex=message_id))
        if message is None or message.message_type == "email" or not message.live(now):
            continue
        if message.audience is not None and message.shows_on(url):
            candidates.append((message, audience_of(message)))
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
    lookup = segments.definition if segments else (lambda _segment_id: None)
    return [m for m, f in candidates if matches(f, profile, now, lookup)]


def waiting_in_app(store: Parley, user: User, now: datetime) -> list[Message]:
    """Manual in-app messages a teammate sent this user since their last visit, oldest first;
    one stopped meanwhile is withdrawn instead (both recorded by the caller's save)."""
    shown = []
    for message_id in list(user.messages_waiting):
        message = store.recent(Message, UUID(hex=message_id))
        if message is not None and message.live(now):
            shown.append(message)
        else:
            user.drop_waiting(message_id, now)
    return shown


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


def showable(message: Message, user: User) -> dict[str, Any] | None:
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


def edit_message(
    store: Parley,
    app_id: str,
    message_id: str,
    content: dict[str, Any],
    custom_keys: set[str],
    clock: Clock,
) -> Message:
    """A new version of the content (subject, body, markup, style); conditions stay."""

    def attempt() -> Message:
        message = store.get_as(Message, UUID(hex=message_id))
        if message is None or message.app_id != app_id:
            raise MessageNotFound(f"message {message_id!r}")
        message.edit(
            content.get("subject"),
            content["body"],
            content.get("markup") or message.versions[-1]["markup"],
            content.get("style"),
            custom_keys,
            clock.now(),
        )
        store.save_all(message)
        return message

    return retry_on_conflict(attempt)


def live_messages(store: Parley, app_id: str) -> list[Message]:
    index = store.get_as(AutoMessages, auto_messages_key(app_id))
    found = [store.get_as(Message, UUID(hex=i)) for i in (index.live if index else [])]
    return [m for m in found if m is not None]
