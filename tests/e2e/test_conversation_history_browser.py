"""The History tab in headless Chromium: a teammate opens a conversation, then its History tab,
finds the private note and the assignment with who made them (and their own read mark),
opens an event's fields, and goes back by the Conversation tab; the page has no serious or
critical accessibility violation and nothing on the way raises a JavaScript error."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from commands.conversations import Reply, StartConversation, reply, start_by_user
from commands.handling import handle
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_dashboard_a11y import serious
from tests.e2e.test_dashboard_browser import PASSWORD, sign_in_page
from tests.e2e.test_widget_browser import TIMEOUT_MS, served_parley
from tests.helpers import ping

browser = harness.browser


def test_the_history_tab_lists_the_note_and_the_assignment(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock) as parley:
        s, app_id = parley.services, parley.app.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        add_admin(AddAdmin(app_id, "bob@acme.io", "Bob Admin"), s.store, clock)
        key = ping(s, app_id, {"user_id": "jo", "name": "Jo"}).user.id.hex
        started = StartConversation(app_id, key, "Export is stuck", via="widget")
        talk = handle(start_by_user, started, s.store, clock).conversation_id
        ann = {"type": "admin", "id": "1"}
        clock.advance(minutes=3)
        handle(reply, Reply(app_id, talk, ann, "note", body="VIP, be quick"), s.store, clock)
        clock.advance(minutes=1)
        assign = Reply(app_id, talk, ann, "assignment", body="Bob knows exports", assignee="2")
        handle(reply, assign, s.store, clock)
        jo = {"type": "user", "id": key}
        asking = Reply(app_id, talk, jo, "comment", body="Any news?", via="widget")
        handle(reply, asking, s.store, clock)
        s.runner.catch_up()

        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in_page(page, parley.url, app_id)
        page.goto(f"{parley.url}/apps/{app_id}/inbox/{talk}")  # which Ann has now read
        tabs = page.get_by_role("navigation", name="Conversation views")
        tabs.get_by_role("link", name="History").click()
        page.wait_for_url(f"**/apps/{app_id}/inbox/{talk}/history")
        expect(tabs.get_by_role("link", name="History")).to_have_attribute("aria-current", "page")
        rows = page.locator("table.trail tbody tr")
        expect(rows).to_have_count(5)
        expect(rows.last).to_contain_text("Ann Admin (teammate)")
        expect(rows.last).to_contain_text("Read the conversation up to part 3")
        note = rows.filter(has_text="Added a private note")
        expect(note).to_contain_text("Ann Admin (teammate)")
        expect(note).to_contain_text("VIP, be quick")
        expect(note).to_contain_text("2026-01-01 00:03:00")
        assigned = rows.filter(has_text="Assigned the conversation to Bob Admin")
        expect(assigned).to_contain_text("Ann Admin (teammate)")
        expect(assigned).to_contain_text("Bob knows exports")
        fields = note.locator("pre.fields")
        expect(fields).to_be_hidden()
        note.get_by_text("Conversation.Replied · fields").click()
        expect(fields).to_be_visible()
        expect(fields).to_contain_text('"part_type": "note"')
        assert serious(page) == []
        tabs.get_by_role("link", name="Conversation").click()
        page.wait_for_url(f"**/apps/{app_id}/inbox/{talk}")
        context.close()
        assert errors == []
