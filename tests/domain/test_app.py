"""The App aggregate: secure mode's hash, teammates and their settings (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.app import App, hash_api_key, user_hash
from domain.errors import InvalidValue
from tests.domain.given import recorded, settled

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def acme() -> App:
    app = App(app_id="acme", name="Acme", api_key_hash=hash_api_key("k"), secret="s3", at=NOW)
    return settled(app)  # type: ignore[return-value]


def test_secure_mode_accepts_only_the_right_hash_once_it_is_on() -> None:
    app = acme()
    assert app.accepts_user_hash("u1", None)  # off: every ping
    app.set_secure_mode(True)
    assert recorded(app) == [("SecureModeChanged", {"on": True})]
    assert not app.accepts_user_hash("u1", None)
    assert not app.accepts_user_hash("u1", user_hash("other", "u1"))
    assert app.accepts_user_hash("u1", user_hash("s3", "u1").upper())
    assert app.accepts_api_key("k") and not app.accepts_api_key("K")


def test_teammates_settings_name_an_existing_teammate_and_a_known_value() -> None:
    app = acme()
    app.add_admin("1", "ann@acme.io", "Ann")
    app.set_notifications("1", "all")
    app.assign_new_conversations_to("1")
    assert [name for name, _ in recorded(app)] == [
        "AdminAdded",
        "NotificationsSet",
        "DefaultAssigneeSet",
    ]
    for change, field in (
        (lambda: app.set_notifications("9", "all"), "id"),
        (lambda: app.set_notifications("1", "sometimes"), "notifications"),
        (lambda: app.assign_new_conversations_to("9"), "admin_id"),
        (lambda: app.set_inbox_style("advanced"), "selector"),
        (lambda: app.set_inbox_style("simple", colour="red"), "colour"),
    ):
        with pytest.raises(InvalidValue) as refused:
            change()
        assert refused.value.field == field
    assert recorded(app) == []
    found = app.admin_with_email("ann@acme.io")
    assert found is not None and found["id"] == "1" and found["notifications"] == "all"
    assert app.admin_with_email("bob@acme.io") is None


def test_a_removed_teammate_keeps_their_name_and_id_but_no_place_in_the_app() -> None:
    app = acme()
    for n, name in enumerate(("Ann", "Bob", "Cy"), start=1):
        app.add_admin(str(n), f"{name.lower()}@acme.io", name)
    app.assign_new_conversations_to("2")
    settled(app)
    for refused, field_reason in (
        (lambda: app.remove_admin("1", by="1"), "you cannot remove yourself"),
        (lambda: app.remove_admin("9", by="1"), "no teammate '9' in this app"),
    ):
        with pytest.raises(InvalidValue) as error:
            refused()
        assert error.value.reason == field_reason
    app.remove_admin("2", by="1")
    assert recorded(app) == [("AdminRemoved", {"admin_id": "2", "by": "1"})]
    assert "2" not in app.admins and app.default_assignee is None  # not handed to nobody
    assert app.teammate("2") == {"id": "2", "email": "bob@acme.io", "name": "Bob"}
    assert app.admin_with_email("bob@acme.io") is None
    assert app.next_admin_id() == "4"  # "2" still names Bob's notes: never given again
    app.remove_admin("3", by=None)
    with pytest.raises(InvalidValue, match="at least one teammate"):
        app.remove_admin("1", by=None)
    app.rotate_api_key(hash_api_key("new"), by="1")
    assert app.accepts_api_key("new") and not app.accepts_api_key("k")
