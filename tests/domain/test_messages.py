"""The Message aggregate: what may be composed, edited and stopped (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import InvalidValue
from domain.messages import Message

NOW = datetime(2026, 6, 1, tzinfo=UTC)
INACTIVE = {"attribute": "last_seen_at", "operator": "more_than_days_ago", "value": 30}


def compose(**given: Any) -> Message:
    fields: dict[str, Any] = {
        "app_id": "a",
        "kind": "auto",
        "message_type": "announcement",
        "admin_id": "ad1",
        "subject": None,
        "body": 'Hey {{ first_name | fallback:"there" }}, we miss you',
        "markup": "markdown",
        "style": None,
        "custom_keys": {"plan"},
        "at": NOW,
        "audience": INACTIVE,
    }
    return Message.compose(**{**fields, **given})


def test_edits_make_new_versions_and_conditions_stay() -> None:
    message = compose(url_pattern="https://app.io/billing*")
    message.edit(None, "Come back, {{ name }}!", "markdown", None, set(), NOW + timedelta(days=1))
    assert [v["body"] for v in message.versions] == [
        'Hey {{ first_name | fallback:"there" }}, we miss you',
        "Come back, {{ name }}!",
    ]
    assert message.audience == INACTIVE
    assert message.shows_on("https://APP.io/billing/plans")
    assert not message.shows_on("https://app.io/settings")
    assert not message.shows_on(None)


def test_a_stopped_or_expired_auto_message_is_no_longer_live() -> None:
    expiring = compose(stop_at=int((NOW + timedelta(days=7)).timestamp()))
    assert expiring.live(NOW)
    assert not expiring.live(NOW + timedelta(days=7))
    stopped = compose()
    stopped.stop(NOW)
    assert not stopped.live(NOW)


def test_an_email_once_sent_cannot_be_edited_or_stopped() -> None:
    email = compose(
        kind="manual",
        message_type="email",
        subject="News",
        style="personal",
        audience=None,
        recipients=["u1"],
    )
    with pytest.raises(InvalidValue, match="cannot be edited"):
        email.edit("News", "changed", "markdown", "personal", set(), NOW)
    with pytest.raises(InvalidValue, match="cannot be stopped"):
        email.stop(NOW)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"message_type": "fax"}, "message_type"),
        ({"kind": "sometimes"}, "kind"),
        ({"body": "Hi {{ shoe_size }}"}, "body"),
        ({"body": "  "}, "body"),
        ({"markup": "rtf"}, "markup"),
        ({"audience": None}, "filter"),
        ({"audience": {"attribute": "nope", "operator": "is", "value": "x"}}, "filter.attribute"),
        ({"message_type": "email", "subject": None, "style": "official"}, "subject"),
        ({"message_type": "email", "subject": "Hi", "style": "fancy"}, "template"),
        ({"message_type": "email", "subject": "Hi {{ bad", "style": "official"}, "subject"),
        ({"kind": "manual", "audience": None, "url_pattern": "x*"}, "url"),
        ({"recipients": ["u1"]}, "to"),
    ],
)
def test_what_cannot_be_sent_is_refused_when_written(given: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        compose(**given)
    assert refused.value.field == field
