"""Projections: exactly once, rebuilt equal to live, resilient to restarts and lost connections."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Table, select, text

from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from commands.auto_messages import ComposeAutoMessage, compose_auto_message
from commands.clock import ManualClock
from commands.conversations import (
    MarkRead,
    Reply,
    StartConversation,
    mark_read,
    reply,
    start_by_user,
)
from commands.notes import WriteNote, write_note
from commands.segments import DeleteSegment, SaveSegment, delete_segment, save_segment
from commands.tags import CompanyRef, DeleteTag, SaveTag, UserRef, delete_tag, save_tag
from commands.tracking import TrackEvent, track_event
from commands.users import (
    CompanyInput,
    DeleteUser,
    MessageExchanged,
    SaveUser,
    UserInput,
    delete_user,
    record_message_received,
    record_message_sent,
    save_user,
)
from commands.views import View, record_view
from domain.delivery import Delivery
from domain.filters import parse_filter
from domain.identity import company_key, user_id_key
from domain.inbound import InboundEmail
from domain.messages import Message
from domain.user import User
from projections.db import make_engine
from projections.rebuild import rebuild
from projections.runner import Runner
from projections.tables import positions, user_companies, users
from projections.users import UsersProjection
from tests.helpers import ping
from web.bootstrap import Services, all_projections, bootstrap
from web.config import Config


def snapshot(services: Services, table: Table) -> list[dict[str, Any]]:
    with services.engine.connect() as conn:
        key = list(table.primary_key.columns)
        return [dict(r) for r in conn.execute(select(table).order_by(*key)).mappings()]


def busy_history(services: Services, app_id: str, clock: ManualClock) -> None:
    for n in range(12):
        clock.advance(minutes=7 * n)
        ping(
            services,
            app_id,
            {
                "user_id": f"u{n % 5}",
                "email": f"u{n % 5}@example.com",
                "visits": n,
                "company": {"id": n % 3, "monthly_spend": 10 * n, "name": f"Co {n % 3}"},
            },
        )
    leave = UserInput(user_id="u1", companies=[CompanyInput("0", remove=True)])
    save_user(SaveUser(app_id, leave), services.store, services.clock)
    delete_user(
        DeleteUser(app_id, ping(services, app_id, {"user_id": "u4"}).user.id.hex),
        services.store,
        services.clock,
    )
    ping(services, app_id, {"user_id": "u4", "name": "back again"})
    store = services.store
    users_ = [UserRef(user_id=f"u{n}") for n in range(4)]
    kept = save_tag(
        SaveTag(app_id, "Kept", users=users_, companies=[CompanyRef(company_id="1")]), store, clock
    )
    gone = save_tag(
        SaveTag(app_id, "Gone", users=users_[:2], companies=[CompanyRef(company_id="2")]),
        store,
        clock,
    )
    save_tag(
        SaveTag(app_id, "Kept", id=kept.id, users=[UserRef(user_id="u0", untag=True)]), store, clock
    )
    delete_tag(
        DeleteTag(
            app_id,
            gone.id,
            [user_id_key(app_id, f"u{n}").hex for n in (0, 1)],
            [company_key(app_id, "2").hex],
        ),
        store,
        clock,
    )
    record_message_sent(MessageExchanged(app_id, "u1", clock.now()), store, clock)
    record_message_received(MessageExchanged(app_id, "u2", clock.now()), store, clock)
    for n, name in enumerate(["invited", "invited", "exported", "invited"]):
        track_event(TrackEvent(app_id, name, user_id=f"u{n % 3}"), store, clock)
    welcome = compose_auto_message(
        ComposeAutoMessage(
            app_id=app_id,
            message_type="announcement",
            admin_id="1",
            subject=None,
            body="Welcome",
            markup="markdown",
            style=None,
            custom_keys={"plan"},
            audience=PRO,
        ),
        store,
        clock,
    )
    ping(services, app_id, {"user_id": "u0", "plan": "pro"})
    record_view(View(app_id, welcome.message_id, user_id="u0"), store, clock)
    pro = save_segment(SaveSegment(app_id, "Pro", parse_filter(PRO)), store, clock)
    save_segment(SaveSegment(app_id, "Pro plan", None, id=pro.id), store, clock)
    dropped = save_segment(SaveSegment(app_id, "Dropped", parse_filter(PRO)), store, clock)
    delete_segment(DeleteSegment(app_id, dropped.id), store, clock)
    # An email's life: claimed, refused once, sent, opened, clicked twice, unsubscribed from.
    news = Message.compose(
        app_id=app_id,
        kind="manual",
        message_type="email",
        admin_id="1",
        subject="News",
        body="We shipped it.",
        markup="markdown",
        style="personal",
        custom_keys=set(),
        at=clock.now(),
        audience={"all": []},
    )
    u2 = user_id_key(app_id, "u2").hex
    delivery = Delivery(
        message_id=news.message_id, user_key=u2, channel="email", content_version=0, at=clock.now()
    )
    delivery.sending(clock.now())
    delivery.deferred("451 busy", clock.now())
    delivery.sending(clock.now())
    delivery.sent(clock.now())
    delivery.click("https://acme.io/a", clock.now())
    delivery.click("https://acme.io/b", clock.now())
    delivery.unsubscribe(clock.now())
    news.dispatch(1, clock.now())
    store.save_all(news, delivery)
    # A conversation: the user writes in, a note, an assignment, a reply, read, closed.
    add_admin(AddAdmin(app_id, "ann@acme.io", "Ann"), store, clock)
    add_admin(AddAdmin(app_id, "bob@acme.io", "Bob"), store, clock)
    u3 = store.get_as(User, user_id_key(app_id, "u3"))
    assert u3 is not None
    talk = start_by_user(StartConversation(u3.app_id, u3.id.hex, "Help?"), store, clock)
    ann = {"type": "admin", "id": "1"}
    reply(Reply(app_id, talk.conversation_id, ann, "note", body="hm"), store, clock)
    reply(Reply(app_id, talk.conversation_id, ann, "assignment", assignee="2"), store, clock)
    bob = {"type": "admin", "id": "2"}
    reply(Reply(app_id, talk.conversation_id, bob, "comment", body="Done"), store, clock)
    mark_read(
        MarkRead(app_id, talk.conversation_id, {"type": "user", "id": u3.id.hex}), store, clock
    )
    reply(Reply(app_id, talk.conversation_id, bob, "close"), store, clock)
    # Notes on a user: by a teammate, and through the API naming no one.
    write_note(
        WriteNote(app_id, "<p>Asked for <b>SSO</b></p>", user_id="u3", admin_id="1"), store, clock
    )
    write_note(WriteNote(app_id, "Renewal in March", email="u2@example.com"), store, clock)
    # The email it came in by, as commands/inbound.py records one.
    inbound = InboundEmail(
        app_id=app_id,
        email_id="<1@mail.example>",
        sender="u3@example.com",
        subject="Help?",
        size=120,
        conversation_id=talk.conversation_id,
        part_id=None,
        author=None,
        at=int(clock.now().timestamp()),
    )
    store.save_all(inbound)


PRO = {"attribute": "custom.plan", "operator": "is", "value": "pro"}
ALL_TABLES = [t for p in all_projections() for t in p.tables]


class Crash(Exception):
    pass


def test_a_batch_that_fails_midway_leaves_no_trace_and_is_applied_once_later(
    services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    busy_history(services, app.app_id, clock)
    projection = UsersProjection()
    original = projection.apply

    def crash_after_writing(conn: Any, events: Any, tables: Any) -> None:
        original(conn, events, tables)
        raise Crash()

    projection.apply = crash_after_writing  # type: ignore[method-assign]
    crashing = Runner(services.store, services.runner.engine, [projection])
    with pytest.raises(Crash):
        crashing.catch_up()
    assert snapshot(services, users) == []
    assert crashing.positions()["users"] == 0
    services.runner.catch_up()
    services.runner.catch_up()
    rows = snapshot(services, users)
    assert sorted(r["user_id"] for r in rows) == ["u0", "u1", "u2", "u3", "u4"]
    # u4 was deleted after three views and came back once: its old views are gone.
    assert {r["user_id"]: r["impressions"] for r in rows} == {
        "u0": 4,  # three views, and the one that showed it the welcome message
        "u1": 3,
        "u2": 2,
        "u3": 2,
        "u4": 1,
    }
    memberships = {(r["user_id"], r["company_id"]) for r in snapshot(services, user_companies)}
    by_key = {r["id"]: r["user_id"] for r in rows}
    assert sorted(by_key[u] for u, _c in memberships) == [
        "u0",
        "u0",
        "u0",
        "u1",
        "u1",
        "u2",
        "u2",
        "u3",
        "u3",
    ]
    assert services.runner.positions()["users"] == services.store.head()


def test_rebuild_from_zero_gives_the_same_rows_as_the_live_projection(
    services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    busy_history(services, app.app_id, clock)
    services.runner.catch_up()
    live = {t.name: snapshot(services, t) for t in ALL_TABLES}
    assert all(live.values())  # every table has rows to compare
    for projection in all_projections():
        replayed = rebuild(services.store, services.runner.engine, projection)
        assert replayed == services.store.head()
    rebuilt = {t.name: snapshot(services, t) for t in ALL_TABLES}
    assert rebuilt == live
    assert services.runner.positions() == {p.name: services.store.head() for p in all_projections()}
    # Live processing carries on from the rebuilt position, and a second rebuild works too.
    ping(services, app.app_id, {"user_id": "u0"})
    services.runner.catch_up()
    before = {r["user_id"]: r["impressions"] for r in live["users"]}
    after = {r["user_id"]: r["impressions"] for r in snapshot(services, users)}
    assert after == {**before, "u0": before["u0"] + 1}
    rebuild(services.store, services.runner.engine, UsersProjection())
    assert len(snapshot(services, users)) == 5


def test_a_restarted_runner_catches_up_from_its_tracked_position(
    config: Config, services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    ping(services, app.app_id, {"user_id": "a"})
    services.runner.catch_up()
    before = services.runner.positions()["users"]
    ping(services, app.app_id, {"user_id": "b"})
    ping(services, app.app_id, {"user_id": "a"})
    restarted = bootstrap(config, clock)
    try:
        restarted.runner.start()
        assert restarted.runner.wait_for(services.store.head(), timeout=10)
        assert restarted.runner.positions()["users"] > before
        rows = {r["user_id"]: r["impressions"] for r in snapshot(services, users)}
        assert rows == {"a": 2, "b": 1}
    finally:
        restarted.close()


def test_the_runner_survives_its_database_connections_being_killed(
    pg_services: Services, clock: ManualClock
) -> None:
    services = pg_services
    app = create_app(CreateApp("Drop"), services.store, clock)
    services.runner.start()
    ping(services, app.app_id, {"user_id": "first"})
    assert services.runner.wait_for(services.store.head(), timeout=10)
    with services.engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                "AND query NOT ILIKE '%pg_stat_activity%'"
            )
        ).scalar()
    assert killed and killed > 0
    time.sleep(0.3)
    ping(services, app.app_id, {"user_id": "second"})
    assert services.runner.wait_for(services.store.head(), timeout=15)
    assert {r["user_id"] for r in snapshot(services, users)} == {"first", "second"}


def test_positions_are_tracked_per_projection(services: Services, app: CreatedApp) -> None:
    ping(services, app.app_id, {"user_id": "a"})
    services.runner.catch_up()
    names = {r["name"] for r in snapshot(services, positions)}
    assert names == {p.name for p in all_projections()}


def test_a_rebuild_split_over_processes_equals_the_live_projection(
    pg_services: Services, clock: ManualClock
) -> None:
    services = pg_services
    app = create_app(CreateApp("Split"), services.store, clock)
    busy_history(services, app.app_id, clock)
    services.runner.catch_up()
    live = {t.name: snapshot(services, t) for t in ALL_TABLES}
    shown: list[int] = []
    for projection in all_projections():
        reached = rebuild(services.store, services.runner.engine, projection, shown.append, 3)
        assert reached == services.store.head()
    assert {t.name: snapshot(services, t) for t in ALL_TABLES} == live
    # The progress bar reaches the end of the log once per projection.
    assert sum(shown) == len(all_projections()) * services.store.head()


def test_upgrading_from_the_first_schema_fills_in_each_users_browser(database_url: str) -> None:
    """A database migrated before browsers were projected gets them from the stored agents."""
    from migrations import upgrade

    upgrade(database_url, "0001")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            for n, agent in enumerate([firefox, None]):
                conn.execute(
                    text(
                        "INSERT INTO users (id, app_id, created_at, updated_at, session_count,"
                        " impressions, unsubscribed_manually, unsubscribed_from_emails,"
                        " custom_attributes, user_agent) VALUES (:id, 'a', 0, 0, 0, 0, false,"
                        " false, '{}', :agent)"
                    ),
                    {"id": f"u{n}", "agent": agent},
                )
        upgrade(database_url)
        with engine.connect() as conn:
            found = dict(conn.execute(select(users.c.id, users.c.browser)).tuples().all())
        assert found == {"u0": "Firefox", "u1": None}
    finally:
        engine.dispose()


def test_a_process_with_no_runner_of_its_own_applies_what_its_writes_wait_for(
    services: Services, app: CreatedApp, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`parley serve`'s web workers: their runner's thread is in another process, so a write
    waiting to be shown applies the batches itself, and a projection none of whose events
    are new is only moved past them. Waited on after every write of a busy history, every
    table ends as a full replay has it."""
    helping = Runner(services.store, services.runner.engine, all_projections(), helps=True)
    waited: list[bool] = []
    save_all = services.store.save_all

    def save_and_wait(*aggregates: Any) -> int:
        position = save_all(*aggregates)
        waited.append(helping.wait_for(position, timeout=10))
        return position

    monkeypatch.setattr(services.store, "save_all", save_and_wait)
    busy_history(services, app.app_id, clock)
    assert len(waited) > 40 and all(waited)
    assert helping.positions() == {p.name: services.store.head() for p in all_projections()}
    helped = {t.name: snapshot(services, t) for t in ALL_TABLES}
    for projection in all_projections():
        rebuild(services.store, services.runner.engine, projection)
    assert {t.name: snapshot(services, t) for t in ALL_TABLES} == helped
    # Without `helps` (a runner thread of this process follows the log) it only waits.
    monkeypatch.undo()
    ping(services, app.app_id, {"user_id": "late"})
    waiting = Runner(services.store, services.runner.engine, all_projections())
    assert not waiting.wait_for(services.store.head(), timeout=0.2)


def test_a_runner_stalled_mid_batch_holds_a_helping_wait_no_longer_than_its_timeout(
    pg_services: Services, clock: ManualClock
) -> None:
    """Another runner holds a projection's position (stalled mid-batch): the waiting write
    does not queue behind its lock without end, it gives up at its own deadline."""
    services = pg_services
    app = create_app(CreateApp("Stall"), services.store, clock)
    helping = Runner(services.store, services.runner.engine, all_projections(), helps=True)
    ping(services, app.app_id, {"user_id": "first"})
    assert helping.wait_for(services.store.head(), timeout=10)
    ping(services, app.app_id, {"user_id": "second"})
    answers: list[bool] = []
    with services.runner.engine.connect() as stalled:
        stalled.execute(
            select(positions.c.position).where(positions.c.name == "users").with_for_update()
        )
        waiter = threading.Thread(
            target=lambda: answers.append(helping.wait_for(services.store.head(), timeout=1))
        )
        waiter.start()
        waiter.join(timeout=10)
        still_waiting = waiter.is_alive()
        stalled.rollback()
    waiter.join(timeout=10)
    assert not still_waiting and answers == [False]
    assert helping.wait_for(services.store.head(), timeout=10)  # once let go, it is shown
    assert {r["user_id"] for r in snapshot(services, users)} == {"first", "second"}
