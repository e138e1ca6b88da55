"""An official Intercom client of the REST API 1.x era, unpatched, against a live Parley.

python-intercom 2.1.1 (2015, from PyPI; setup.cfg's test extras) is pointed at a Parley served
on a free port, on SQLite and on PostgreSQL, and driven through each resource it has: what it
sends (trailing slashes, `conversation_id` in replies, bare `{read: true}`, `pages.next`
followed as a URL) is what those teams' code sends today.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from commands.apps import AddAdmin, CreatedApp, add_admin
from commands.clock import ManualClock
from tests.e2e.test_webhooks import Receiver
from tests.e2e.test_widget_browser import Served
from web.app import create_app as create_web_app
from web.bootstrap import Services
from web.config import Config

with warnings.catch_warnings():  # its source has a '\g' escape Python 3.12 warns about
    warnings.simplefilter("ignore")
    import intercom
    from intercom import (
        Admin,
        Company,
        Conversation,
        Count,
        Event,
        Message,
        Note,
        Segment,
        Subscription,
        Tag,
        User,
    )
    from intercom.errors import BadRequestError, ResourceNotFound


@pytest.fixture
def config(database_url: str, tmp_path: object) -> Config:
    """As the suite's, with webhooks allowed to the test's own receiver on 127.0.0.1."""
    return Config(
        database_url=database_url,
        secret_key="test",
        outbox_dir=f"{tmp_path}/outbox",
        sweep_seconds=0,
        webhook_allow_private=True,
    )


@dataclass
class Live:
    services: Services
    app: CreatedApp
    url: str


@pytest.fixture
def live(services: Services, app: CreatedApp, clock: ManualClock) -> Iterator[Live]:
    """Parley served as in production: projections followed in the background, the client's
    global settings pointed at it (and put back after)."""
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, clock)  # "1"
    add_admin(AddAdmin(app.app_id, "bob@acme.io", "Bob Admin"), services.store, clock)  # "2"
    services.runner.start()
    web = create_web_app(services=services, follow=True)
    served = Served(web)
    before = (intercom.Intercom.app_id, intercom.Intercom.app_api_key)
    intercom.Intercom.app_id, intercom.Intercom.app_api_key = app.app_id, app.api_key
    intercom.Intercom.endpoint = served.url
    try:
        yield Live(services, app, served.url)
    finally:
        intercom.Intercom.app_id, intercom.Intercom.app_api_key = before
        served.close()
        for follower in web.extensions["parley_followers"]:
            follower.stop()
        web.extensions["parley_jobs"].stop()
        web.extensions["parley_live"].stop()
        services.runner.stop()


def names(items: Any) -> list[str]:
    return sorted(item.name for item in items)


def test_users_companies_tags_segments_events_counts_and_admins(live: Live) -> None:
    now = int(time.time())
    ann = User.create(
        user_id="ann", email="ann@example.org", name="Ann", custom_attributes={"plan": "pro"}
    )
    assert ann.id and ann.user_id == "ann" and ann.custom_attributes["plan"] == "pro"
    assert User.find(email="ann@example.org").id == ann.id
    assert User.find(user_id="ann").email == "ann@example.org"
    found = User.find(id=ann.id)
    found.custom_attributes["seats"] = 4
    found.increment("logins")
    found.name = "Ann Lee"
    found.save()
    again = User.find(id=ann.id)
    assert again.name == "Ann Lee" and again.custom_attributes["seats"] == 4
    assert again.custom_attributes["logins"] == 1
    assert isinstance(again.created_at.year, int)  # *_at fields are Unix times, as it expects
    with pytest.raises(ResourceNotFound):
        User.find(email="nobody@example.org")
    with pytest.raises(BadRequestError):
        User.create(user_id="x", custom_attributes={"nested": {"no": "objects"}})
    for n in range(55):  # past the first page: the client follows pages.next
        User.create(user_id=f"p{n}")
    assert sum(1 for _ in User.all()) == 56
    assert User.count() == 56

    # Companies: created, found three ways, saved (the client sends its `id`), their users.
    acme = Company.create(company_id="acme", name="Acme", monthly_spend=99, plan="big")
    assert Company.find(company_id="acme").id == acme.id
    assert Company.find(name="Acme").company_id == "acme"
    renamed = Company.find(id=acme.id)
    renamed.name = "Acme Inc"
    renamed.custom_attributes["size"] = 30
    renamed.save()
    assert Company.find(id=acme.id).name == "Acme Inc"
    assert Company.find(id=acme.id).custom_attributes["size"] == 30
    member = User.find(id=ann.id)
    member.companies = [{"company_id": "acme", "name": "Acme Inc"}]
    member.save()
    assert [c.company_id for c in User.find(id=ann.id).companies] == ["acme"]
    assert [u.email for u in Company.find(id=acme.id).users] == ["ann@example.org"]
    assert sum(1 for _ in Company.all()) == 1 and Company.count() == 1
    leaving = User.find(id=ann.id)
    leaving.companies = [{"company_id": "acme", "remove": True}]
    leaving.save()
    assert list(User.find(id=ann.id).companies) == []

    # Tags: created, found by id and name, renamed, put on users and companies and taken off.
    vip = Tag.create(name="VIP")
    assert Tag.find(id=vip.id).name == "VIP" and Tag.find(name="vip").id == vip.id
    vip.name = "Very important"
    vip.save()
    assert Tag.find(id=vip.id).name == "Very important"
    Tag.tag_users("Very important", [ann.id])
    Tag.tag_users("Beta", [{"user_id": "p1"}, {"email": "ann@example.org"}])
    assert names(User.find(id=ann.id).tags) == ["Beta", "Very important"]
    assert names(Tag.find_all_for_user(id=ann.id)) == ["Beta", "Very important"]
    assert names(Tag.find_all_for_user(user_id="p1")) == ["Beta"]
    Tag.untag_users("Very important", [ann.id])
    assert names(Tag.find_all_for_user(email="ann@example.org")) == ["Beta"]
    Tag.tag_companies("Enterprise", [acme.id])
    assert names(Tag.find_all_for_company(id=acme.id)) == ["Enterprise"]
    assert names(Company.find(id=acme.id).tags) == ["Enterprise"]
    assert names(Tag.all()) == ["Beta", "Enterprise", "Very important"]
    beta = Tag.find(name="Beta")
    assert {u.user_id for u in User.find_all(tag_id=beta.id)} == {"ann", "p1"}
    with pytest.raises(ResourceNotFound):
        Tag.find(name="nope")

    # Segments: saved filters, listed, renamed, their users.
    pro = Segment.create(
        name="Pro", filter={"attribute": "custom.plan", "operator": "is", "value": "pro"}
    )
    assert Segment.find(id=pro.id).name == "Pro"
    pro.name = "Pro plan"
    pro.save()
    assert "Pro plan" in names(Segment.all())  # beside the app's own (Active, New, ...)
    assert [u.user_id for u in User.find_all(segment_id=pro.id)] == ["ann"]

    # Events, with the metadata the client's README shows (a link and a price).
    Event.create(
        event_name="invited-friend", created_at=now, email="ann@example.org",
        metadata={"invitee": "pat@example.org", "order": {"url": "https://example.org/o/1",
                  "value": "Order 1"}, "price": {"amount": 3499, "currency": "eur"}},
    )  # fmt: skip
    with pytest.raises(BadRequestError):
        Event.create(event_name="no-time", email="ann@example.org")

    # Counts and admins.
    counts = Count.fetch_for_app()
    assert counts.user["count"] == 56 and counts.company["count"] == 1
    assert counts.tag["count"] == 3 and counts.segment["count"] == len(list(Segment.all()))
    by_tag = Count.user_counts_for_each_tag
    assert {"Beta": 2} in by_tag
    assert [a.name for a in Admin.all()] == ["Ann Admin", "Bob Admin"]
    assert Admin.find(id="2").email == "bob@acme.io"

    # Deleting a company: its users leave it.
    doomed = Company.create(company_id="doomed", name="Doomed")
    joining = User.find(user_id="p2")
    joining.companies = [{"company_id": "doomed"}]
    joining.save()
    Company.find(id=doomed.id).delete()
    with pytest.raises(ResourceNotFound):
        Company.find(company_id="doomed")
    assert list(User.find(user_id="p2").companies) == []

    # Deleting a user: gone from every list and count.
    User.find(user_id="p54").delete()
    with pytest.raises(ResourceNotFound):
        User.find(user_id="p54")
    assert User.count() == 55


def test_messages_and_conversations_replies_assignment_closing_and_read(live: Live) -> None:
    ann = User.create(user_id="ann", email="ann@example.org", name="Ann")
    asked = Message.create(
        **{"from": {"type": "user", "email": "ann@example.org"}, "body": "Where is my invoice?"}
    )
    # Listed at once: the answer to a write waits until the lists show it.
    (mine,) = Conversation.find_all(type="user", email="ann@example.org")
    assert mine.id == asked.id and mine.open is True
    conversation = Conversation.find(id=asked.id)
    assert conversation.user.id == ann.id
    assert "invoice" in conversation.conversation_message.body
    assert conversation.user.load().email == "ann@example.org"

    conversation.reply(type="admin", email="bob@acme.io", message_type="comment", body="On it")
    conversation.reply(type="user", email="ann@example.org", message_type="comment", body="Ta")
    conversation.reply(type="admin", admin_id="1", message_type="note", body="Refund it")
    conversation.assign(admin_id="1", assignee_id="2")
    (bobs,) = Conversation.find_all(type="admin", id="2", open=True)
    assert bobs.id == conversation.id
    whole = Conversation.find(id=conversation.id)
    parts = [(p.part_type, p.author.id) for p in whole.conversation_parts]
    assert parts == [("comment", "2"), ("comment", ann.id), ("note", "1"), ("assignment", "1")]
    assert whole.assignee.id == "2"

    conversation.close_conversation(admin_id="2", body="Refunded, closing.")
    assert Conversation.find(id=conversation.id).open is False
    assert [c.id for c in Conversation.find_all(type="admin", id="2", open=False)] == [asked.id]
    conversation.open_conversation(admin_id="2")
    assert Conversation.find(id=conversation.id).open is True
    conversation.reply(type="admin", admin_id="2", message_type="comment", body="One more")
    unread = Conversation.find_all(type="user", email="ann@example.org", unread=True)
    assert [c.id for c in unread] == [asked.id]
    reading = Conversation.find(id=conversation.id)
    reading.read = True
    reading.save()
    assert Conversation.find(id=conversation.id).read is True
    assert list(Conversation.find_all(type="user", email="ann@example.org", unread=True)) == []

    # A teammate's in-app message and email to a user; the team's whole inbox, page by page.
    sent = Message.create(
        **{"message_type": "inapp", "body": "Welcome!", "from": {"type": "admin", "id": "1"},
           "to": {"type": "user", "user_id": "ann"}}
    )  # fmt: skip
    assert sent.id
    emailed = Message.create(
        **{"message_type": "email", "subject": "Hello", "body": "Hi there",
           "template": "plain", "from": {"type": "admin", "id": "1"},
           "to": {"type": "user", "email": "ann@example.org"}}
    )  # fmt: skip
    assert emailed.id
    started = {asked.id}
    for n in range(30):
        User.create(user_id=f"q{n}")
        started.add(
            Message.create(**{"from": {"type": "user", "user_id": f"q{n}"}, "body": f"Hi {n}"}).id
        )
    every = [c.id for c in Conversation.find_all()]  # 25 a page, then pages.next
    whole = requests.get(f"{live.url}/conversations", auth=(live.app.app_id, live.app.api_key))
    assert len(every) == len(set(every)) == whole.json()["total_count"] > 31
    assert started <= set(every)  # with those the teammate's messages opened
    with pytest.raises(ResourceNotFound):
        Conversation.find(id="0" * 32)


def test_notes_and_webhook_subscriptions(live: Live) -> None:
    ann = User.create(user_id="ann", email="ann@example.org")
    first = Note.create(email="ann@example.org", body="Wants annual billing", admin_id="1")
    Note.create(user_id="ann", body="<p>Called about <b>SSO</b></p>")
    assert first.id and first.user.id == ann.id
    assert "annual billing" in Note.find(id=first.id).body
    bodies = [n.body for n in Note.find_all(email="ann@example.org")]  # newest first
    assert len(bodies) == 2 and "<b>SSO</b>" in bodies[0] and "annual" in bodies[1]
    assert Note.find(id=first.id).user.load().email == "ann@example.org"
    with pytest.raises(ResourceNotFound):
        Note.find(id="0" * 32)

    receiver = Receiver()
    try:
        made = Subscription.create(
            service_type="web", url=receiver.url, topics=["user.created"], hub_secret="s"
        )
        assert made.id and made.topics == ["user.created"] and made.active is True
        assert Subscription.find(id=made.id).url == receiver.url
        assert [x.id for x in Subscription.find_all()] == [made.id]
        User.create(user_id="bob")
        got = receiver.wait_for(2)  # the ping, then Bob
        assert [n["topic"] for n in got] == ["ping", "user.created"]
        Subscription.find(id=made.id).delete()
        assert list(Subscription.find_all()) == []
    finally:
        receiver.stop()
