"""Which messages a user is shown (domain/showing.py), who is emailed about a user's message
(`to_notify`) and whose reply token counts (`honours_token`): given aggregates, then events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.conversations import Conversation, to_notify
from domain.inbound import honours_token
from domain.messages import Message
from domain.showing import (
    deliver_manual,
    due_candidates,
    show_on_page_view,
    still_waiting,
    unseen_popups,
)
from domain.user import User
from tests.domain.given import recorded, settled

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EVERYONE = {"attribute": "email", "operator": "known", "value": None}


def message(kind: str = "auto", message_type: str = "announcement", **given: Any) -> Message:
    fields: dict[str, Any] = {
        "app_id": "a",
        "kind": kind,
        "message_type": message_type,
        "admin_id": "1",
        "subject": None,
        "body": "Hi {{ first_name }}",
        "markup": "markdown",
        "style": None,
        "custom_keys": set(),
        "at": NOW,
        "audience": EVERYONE if kind == "auto" else None,
    }
    if kind == "manual":
        fields["recipients"] = ["u"]
    return Message.compose(**{**fields, **given})


def user() -> User:
    found = User(app_id="a", user_id="u", email="u@x.io", at=NOW)
    return settled(found)  # type: ignore[return-value]


def content(m: Message, _user: User) -> dict[str, Any] | None:
    return None if "nothing" in m.versions[-1]["body"] else {"body": f"<p>{m.message_id}</p>"}


def test_a_due_auto_message_is_recorded_shown_and_opens_a_conversation() -> None:
    ann, welcome = user(), message()
    shown, opened = show_on_page_view(ann, [welcome], content, NOW)
    assert [s.message for s in shown] == [welcome]
    assert [name for name, _ in recorded(ann)] == ["AutoMessageShown"]
    (conversation,) = opened
    assert shown[0].conversation_id == conversation.conversation_id
    assert conversation.message_id == welcome.message_id
    assert conversation.author == {"type": "admin", "id": "1"}


def test_a_popup_not_yet_displayed_is_offered_again_until_the_widget_shows_it() -> None:
    ann, first, second = user(), message(), message(message_type="notification")
    inbox = message(message_type="inbox")
    shown, _ = show_on_page_view(ann, [first, second, inbox], content, NOW)
    settled(ann)
    messages: dict[str, Message | None] = {m.message_id: m for m in (first, second, inbox)}
    later = NOW + timedelta(minutes=5)
    offered = unseen_popups(ann, messages, content, later)
    # The inbox message was never a popup; the two popups wait, each with its conversation.
    assert [(s.message, s.conversation_id) for s in offered] == [
        (s.message, s.conversation_id) for s in shown[:2]
    ]
    ann.view_auto_message(first.message_id, later)
    assert [s.message for s in unseen_popups(ann, messages, content, later)] == [second]
    second.stop(later)
    assert unseen_popups(ann, messages, content, later + timedelta(seconds=1)) == []


def test_a_message_showing_nothing_is_recorded_not_shown_and_opens_nothing() -> None:
    ann, empty = user(), message(body="nothing here")
    shown, opened = show_on_page_view(ann, [empty], content, NOW)
    assert (shown, opened) == ([], [])
    ((name, fields),) = recorded(ann)
    assert (name, fields["reason"]) == ("MessageNotShown", "empty")
    assert ann.had_message(empty.message_id)  # not tried again on every ping


def test_a_waiting_manual_message_is_shown_and_adds_to_the_relationship() -> None:
    ann, note = user(), message(kind="manual")
    deliver_manual(ann, note, content, NOW)
    settled(ann)
    shown, _ = show_on_page_view(
        ann, still_waiting(ann, {note.message_id: note}, NOW), content, NOW
    )
    assert [s.message for s in shown] == [note]
    assert [name for name, _ in recorded(ann)] == ["MessageShown", "MessageSent"]
    assert ann.messages_waiting == []


def test_a_stopped_waiting_message_is_withdrawn_instead() -> None:
    ann, note = user(), message(kind="manual")
    deliver_manual(ann, note, content, NOW)
    note.stop(NOW)
    settled(ann)
    assert still_waiting(ann, {note.message_id: note}, NOW + timedelta(seconds=1)) == []
    assert ann.messages_waiting == []
    assert len(recorded(ann)) == 1


def test_an_inbox_message_is_delivered_at_once_and_only_once() -> None:
    ann, inbox = user(), message(kind="manual", message_type="inbox")
    (opened,) = deliver_manual(ann, inbox, content, NOW)
    assert isinstance(opened, Conversation)
    assert deliver_manual(ann, inbox, content, NOW) == []


def test_due_candidates_leave_out_emails_stopped_had_and_other_pages() -> None:
    ann = user()
    email = message(message_type="email", subject="Hi", style="personal")
    billing = message(url_pattern="https://app.io/billing*")
    stopped, had, fine = message(), message(), message()
    stopped.stop(NOW)
    ann.auto_message_shown(had.message_id, 0, NOW)
    live = [email, billing, stopped, had, fine, None]
    found = due_candidates(ann, "https://app.io/home", NOW + timedelta(seconds=1), live)
    assert found == [fine]
    on_billing = due_candidates(ann, "https://app.io/billing/1", NOW, [billing])
    assert on_billing == [billing]


def test_teammates_notified_by_their_setting() -> None:
    talk = Conversation.start(
        app_id="a", user_key="u", author={"type": "user", "id": "u"}, body="?", at=NOW, assignee="2"
    )
    admins = {
        "1": {"notifications": "all"},
        "2": {},  # mine, the default: assigned to them
        "3": {"notifications": "mine"},
        "4": {"notifications": "none"},
    }
    assert to_notify(admins, talk) == ["1", "2"]


def test_a_reply_token_counts_only_for_whom_it_was_given() -> None:
    assert honours_token("u", "ann@x.io", None, "Ann@X.io")
    assert not honours_token("u", "eve@x.io", None, "ann@x.io")
    assert not honours_token("u", "ann@x.io", "1", "ann@x.io")  # a teammate with that address
    assert honours_token("a1", "bob@team.io", "1", None)
    assert not honours_token("a1", "eve@team.io", "2", None)
    assert not honours_token("a1", "eve@x.io", None, None)
