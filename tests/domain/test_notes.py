"""The Note aggregate: one event, its body the sanitised HTML the team reads (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import InvalidValue
from domain.notes import MAX_BODY, Note, note_html, note_text
from tests.domain.given import recorded

NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def written(body: str, markup: str = "html", **more: Any) -> Note:
    given: dict[str, Any] = {"admin_id": "1", "via": "api", **more}
    return Note.write(app_id="a", user_key="u1", body=body, markup=markup, at=NOW, **given)


def test_a_note_is_one_created_event_with_everything_it_says() -> None:
    note = written("<p>Called on <b>Monday</b></p>")
    ((name, fields),) = recorded(note)
    assert name == "Created"
    assert fields == {
        "note_id": note.note_id,
        "app_id": "a",
        "user_key": "u1",
        "admin_id": "1",
        "body": "<p>Called on <b>Monday</b></p>",
        "via": "api",
        "at": NOW,
    }
    assert note.id.hex == note.note_id and note.created_at == int(NOW.timestamp())


def test_each_note_has_its_own_id() -> None:
    assert written("one").note_id != written("one").note_id


def test_html_is_sanitised_and_plain_text_becomes_paragraphs() -> None:
    assert note_html('<p onclick="x()">Hi<script>alert(1)</script></p>', "html") == "<p>Hi</p>"
    assert note_html("Wants <b>annual</b> billing", "html") == "<p>Wants <b>annual</b> billing</p>"
    assert note_html("Prefers email & phone", "html") == "<p>Prefers email &amp; phone</p>"
    assert note_html("First.\n\nSecond.", "html") == "<p>First.</p>\n<p>Second.</p>"
    # What a teammate types on the dashboard is text: its tags are shown, not obeyed.
    assert note_html("<b>VIP</b>", "text") == "<p>&lt;b&gt;VIP&lt;/b&gt;</p>"
    link = note_html('<a href="javascript:alert(1)">x</a> <a href="https://x.io">y</a>', "html")
    assert "javascript" not in link and 'href="https://x.io"' in link


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "cannot be empty"),
        ("   \n", "cannot be empty"),
        ("<script>alert(1)</script>", "nothing is left after sanitising"),
        ("<p>\u200b</p>", "nothing is left after sanitising"),
        ("x" * (MAX_BODY + 1), f"at most {MAX_BODY} characters"),
    ],
)
def test_a_body_that_shows_nothing_or_is_too_long_is_refused(body: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        written(body)
    assert refused.value.field == "body" and reason in refused.value.reason


def test_only_known_channels_and_markups() -> None:
    with pytest.raises(InvalidValue) as channel:
        written("hi", via="fax")
    assert channel.value.field == "via"
    with pytest.raises(InvalidValue) as markup:
        written("hi", markup="rtf")
    assert markup.value.field == "markup"


def test_a_notes_words_read_on_one_line() -> None:
    shown = note_html("<p>Asked for <b>SSO</b>.</p><p>Call&nbsp;back<br>on Friday</p>", "html")
    assert note_text(shown) == "Asked for SSO. Call back on Friday"
