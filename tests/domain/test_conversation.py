"""The Conversation aggregate: who may write what, who is notified once, read state, and what
the user sees (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.conversations import Conversation
from domain.errors import InvalidValue
from tests.domain.given import recorded, settled

NOW = datetime(2026, 6, 1, tzinfo=UTC)
USER = {"type": "user", "id": "u1"}
ANN = {"type": "admin", "id": "1"}


def started() -> Conversation:
    found = Conversation.start(app_id="a", user_key="u1", author=USER, body="Help?", at=NOW)
    return settled(found)  # type: ignore[return-value]


def test_a_user_writing_again_reopens_a_closed_conversation() -> None:
    conversation = started()
    conversation.reply(author=ANN, part_type="close", at=NOW)
    assert conversation.open is False
    settled(conversation)
    part = conversation.reply(author=USER, part_type="comment", at=NOW, body="Still broken")
    ((name, fields),) = recorded(conversation)
    assert name == "Replied" and fields["part"] == part and fields["first_reply"] is False
    assert conversation.open is True


def test_a_user_only_comments_and_every_note_needs_words() -> None:
    conversation = started()
    with pytest.raises(InvalidValue) as refused:
        conversation.reply(author=USER, part_type="note", at=NOW, body="psst")
    assert refused.value.field == "message_type"
    with pytest.raises(InvalidValue) as empty:
        conversation.reply(author=ANN, part_type="note", at=NOW, body="  ")
    assert empty.value.field == "body"
    with pytest.raises(InvalidValue) as nobody:
        conversation.reply(author=ANN, part_type="assignment", at=NOW)
    assert nobody.value.field == "assignee_id"
    assert recorded(conversation) == []  # a refused command records nothing


def test_each_teammate_is_notified_of_a_part_once() -> None:
    conversation = started()
    assert conversation.notify("start", ["1", "2"], NOW) == ["1", "2"]
    assert conversation.notify("start", ["1", "2", "3"], NOW) == ["3"]
    assert conversation.notify("start", ["2", "3"], NOW) == []
    assert [(name, fields["admin_ids"]) for name, fields in recorded(conversation)] == [
        ("Notifying", ["1", "2"]),
        ("Notifying", ["3"]),
    ]


def test_reading_what_was_read_records_nothing_and_the_user_never_sees_notes() -> None:
    conversation = started()
    conversation.reply(author=ANN, part_type="note", at=NOW, body="VIP, be nice")
    conversation.reply(author=ANN, part_type="assignment", at=NOW, assignee="2", body="yours")
    conversation.reply(author=ANN, part_type="comment", at=NOW, body="On it")
    settled(conversation)
    assert conversation.unread_by_user is True
    conversation.read_by(USER, NOW)
    conversation.read_by(USER, NOW)
    assert [name for name, _ in recorded(conversation)] == ["Read"]
    assert conversation.unread_by_user is False
    assert [p["body"] for p in conversation.visible_to_user()] == ["On it"]
    assert conversation.assignee == "2"
