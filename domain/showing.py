"""Which messages a user is shown (seed: "Auto Messages", "Manual messages").

On a page view, a user is shown the manual in-app messages a teammate sent them since their
last visit (still live), then each live in-app auto message they match for the first time on
this page. An inbox message is delivered at once instead of waiting for a visit. Each shown
message opens a conversation the user can reply to; one whose body would show this user
nothing is recorded as not shown and skipped. Every decision is recorded on the user, in the
same atomic save as the page view, so each message goes out to each user at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.conversations import Conversation, conversation_for
from domain.filters import Filter
from domain.matching import Profile, Segments, matches
from domain.messages import Message
from domain.user import User

# What the widget displays of a message for a user, or None when it would show nothing.
Content = Callable[[Message, User], dict[str, Any] | None]


@dataclass(frozen=True)
class Shown:
    """A message a page view shows: its content and the conversation it opened (on this page
    view or an earlier one)."""

    message: Message
    content: dict[str, Any]
    conversation_id: str


def due_candidates(
    user: User, url: str | None, now: datetime, live: Iterable[Message | None]
) -> list[Message]:
    """Of the app's live auto messages, those this user has never had, shown in the widget
    (not emails), still running, with a filter, and meant for this page."""
    return [
        m
        for m in live
        if m is not None
        and not user.had_message(m.message_id)
        and m.message_type != "email"
        and m.live(now)
        and m.audience is not None
        and m.shows_on(url)
    ]


def matching(
    candidates: Sequence[tuple[Message, Filter]], profile: Profile, now: datetime, lookup: Segments
) -> list[Message]:
    """The candidates whose filter the user (as `profile` describes them) matches now."""
    return [m for m, f in candidates if matches(f, profile, now, lookup)]


def still_waiting(user: User, waiting: dict[str, Message | None], now: datetime) -> list[Message]:
    """The manual messages waiting on the user that are still live, oldest first; one stopped
    meanwhile (or gone) is withdrawn from the user instead."""
    shown = []
    for message_id in list(user.messages_waiting):
        message = waiting.get(message_id)
        if message is not None and message.live(now):
            shown.append(message)
        else:
            user.drop_waiting(message_id, now)
    return shown


POPUPS = ("conversation", "announcement", "notification")  # the types the widget pops up


def show_on_page_view(
    user: User, messages: Iterable[Message], content: Content, now: datetime
) -> tuple[list[Shown], list[Conversation]]:
    """Record on the user which of these due messages this page view shows, each with its
    content and the conversation it opens (unsaved, for the caller to save with the user).
    A popup stays unseen on the user until the widget displays it (one at a time: the rest
    wait for the next page view). A manual message adds to the relationship score (seed)."""
    shown: list[Shown] = []
    opened: list[Conversation] = []
    for message in messages:
        version = len(message.versions) - 1
        # A message that would show nothing never stops the page view from being recorded.
        shows = content(message, user)
        if shows is None:
            user.message_not_shown(message.message_id, version, "empty", now)
            continue
        conversation = conversation_for(message, user, shows["body"], now)
        popup = conversation.conversation_id if message.message_type in POPUPS else None
        if message.message_id in user.messages_waiting:
            user.message_shown(message.message_id, version, now, conversation_id=popup)
            user.message_sent(now)
        else:
            user.auto_message_shown(message.message_id, version, now, conversation_id=popup)
        shown.append(Shown(message, shows, conversation.conversation_id))
        opened.append(conversation)
    return shown, opened


def unseen_popups(
    user: User, messages: dict[str, Message | None], content: Content, now: datetime
) -> list[Shown]:
    """The popups that went out to this user earlier but were never displayed (the widget
    shows one at a time and the page was left first), still live, oldest first: offered
    again, with their current content, each with the conversation it opened."""
    offered = []
    for message_id, conversation_id in user.popups_unseen.items():
        message = messages.get(message_id)
        if message is None or not message.live(now):
            continue
        shows = content(message, user)
        if shows is not None:
            offered.append(Shown(message, shows, conversation_id))
    return offered


def deliver_manual(
    user: User, message: Message, content: Content, now: datetime
) -> list[Conversation]:
    """A teammate's manual in-app message reaches the user: a popup waits for their next visit;
    an inbox message is delivered now, once, opening its conversation (returned, to be saved
    with the user)."""
    if message.message_type != "inbox":
        user.queue_message(message.message_id, now)
        return []
    if user.had_message(message.message_id):
        return []
    user.queue_message(message.message_id, now)
    shows = content(message, user)
    if shows is None:
        user.message_not_shown(message.message_id, len(message.versions) - 1, "empty", now)
        return []
    user.message_shown(message.message_id, len(message.versions) - 1, now)
    user.message_sent(now)
    return [conversation_for(message, user, shows["body"], now)]
