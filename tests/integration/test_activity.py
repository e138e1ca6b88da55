"""The activity's reading (queries/activity.py), on both databases: events stored before
sources were recorded still read, an update says what it replaced even far into a long
history, and lines about tags and messages name them and link where they should."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from commands.tags import DeleteTag, SaveTag, UserRef, delete_tag, save_tag
from domain.user import User
from queries.activity import activity
from tests.helpers import ping, post, settle
from web.bootstrap import Services


def said(services: Services, app: CreatedApp, key: str, per_page: int = 50) -> list[Any]:
    services.runner.catch_up()
    admins = {"1": {"name": "Ann Admin", "email": "ann@acme.io"}}
    with services.engine.connect() as conn:
        found = activity(
            services.store, conn, app_id=app.app_id, user_key=key, admins=admins, per_page=per_page
        )
    return [(line.text, line.source, line.link) for line in found.lines]


def as_first_stored(services: Services, user: User, change: dict[str, Any]) -> None:
    """Store the user's pending event as the first prototype did: without the fields added
    since (`change`: field -> its old value, or None to leave it out)."""
    (pending,) = user.collect_events()
    stored = services.store.mapper.to_stored_event(pending)
    state = services.store.mapper.transcoder.decode(stored.state)
    for name, old in change.items():
        state.pop(name, None)
        if old is not None:
            state[name] = old
    state.pop("class_version", None)
    old = services.store.mapper.transcoder.encode(state)
    services.store.recorder.insert_events(
        [StoredEvent(stored.originator_id, stored.originator_version, stored.topic, old)]
    )


def test_old_events_read_without_a_source_and_an_update_says_what_it_replaced(
    services: Services, app: CreatedApp
) -> None:
    saved = ping(services, app.app_id, {"user_id": "old", "name": "Al", "plan": "free"})
    for n in range(120):  # snapshots come every 50 events: the update reads one
        ping(services, app.app_id, {"user_id": "old"}, url=f"https://x.io/p/{n}")
    user = services.store.get_as(User, saved.user.id)
    assert user is not None
    user.update({"name": "Al B."}, {"plan": "pro"})
    as_first_stored(services, user, {"by": None})
    user.record_page_view(services.clock.now(), "https://x.io/pricing", None, None, None, None)
    as_first_stored(services, user, {"source": None, "via": None, "referrer": "https://x.io/"})

    assert said(services, app, saved.user.id.hex, per_page=3) == [
        ("Seen on /pricing", "snippet", None),
        ("name changed from Al to Al B.; custom plan changed from free to pro", None, None),
        ("Seen on /p/119", "snippet", None),
    ]


def test_tags_and_messages_are_named_and_lines_link_to_the_conversation(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    key = ping(services, app.app_id, {"user_id": "j", "name": "John"}).user.id.hex
    vip = save_tag(SaveTag(app.app_id, "VIP"), services.store, services.clock).id
    user = services.store.get_as(User, UUID(hex=key))
    assert user is not None
    user.tag(vip, by="1")  # as a teammate's tagging records it
    services.store.save_all(user)
    beta = SaveTag(app.app_id, "Beta", users=[UserRef(user_id="j")])
    beta_id = save_tag(beta, services.store, services.clock).id
    delete_tag(DeleteTag(app.app_id, beta_id, [key], []), services.store, services.clock)
    hello = {
        "message_type": "inapp",
        "body": 'Hey {{ first_name | fallback:"you" }}, we moved the **billing** page.',
        "from": {"type": "admin", "id": "1"},
        "to": {"type": "user", "user_id": "j"},
    }
    message_id = post(client, "/messages", auth, hello).get_json()["id"]
    settle(client.application)
    ping(services, app.app_id, {"user_id": "j"})  # the next visit shows it
    settle(client.application)

    lines = said(services, app, key)
    (talk,) = {link[1] for _, _, link in lines if link is not None and link[0] == "conversation"}
    words = "“Hey you, we moved the billing page.”"
    assert lines[:6] == [
        (f"Shown {words} by Ann Admin", "snippet", ("conversation", talk)),
        ("Seen on /", "snippet", None),
        (f"Sent {words} by Ann Admin", "teammate", ("conversation", talk)),
        ("Untagged Beta (since deleted)", None, None),
        ("Tagged Beta (since deleted)", None, None),
        ("Tagged VIP by Ann Admin", "teammate", None),
    ]
    assert message_id and lines[-1] == ("Became a user (user_id j)", None, None)


def test_an_events_link_and_price_read_as_words() -> None:
    from queries.activity_words import shown_value

    link = {"url": "https://a.io/o/4", "value": "Order 4"}
    assert shown_value("order", link) == "Order 4 (https://a.io/o/4)"
    assert shown_value("price", {"amount": 349_900, "currency": "eur"}) == "3,499.00 EUR"
