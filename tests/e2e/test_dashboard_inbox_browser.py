"""The inbox in headless Chromium: two teammates in two browser contexts see each other's
assignments, notes and the users' messages without reloading (the live stream); a reply and
a note written in the dashboard reach the widget as the reply alone; the keyboard shortcuts
work and never fire while typing; axe finds nothing serious or critical; no page error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, SetInboxStyle, add_admin, set_inbox_style
from commands.clock import ManualClock
from commands.conversations import Reply, StartConversation, reply, start_by_user
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_dashboard_a11y import serious
from tests.e2e.test_dashboard_browser import sign_in_page
from tests.e2e.test_widget_browser import (
    TIMEOUT_MS,
    CustomerSite,
    Parley,
    Tab,
    html,
    served_parley,
    settings_block,
    snippet,
)
from tests.helpers import ping

browser = harness.browser
site = harness.site
open_tab = harness.open_tab
PASSWORD = "correct horse battery"
LIVE_MS = 5_000  # "within a second" is the benchmark's to measure; here: it comes at all


@contextmanager
def team(tmp_path: Path, clock: ManualClock) -> Iterator[Parley]:
    """Parley as served (projections current in the background) with Ann and Bob."""
    with served_parley(tmp_path, clock, live=True) as parley:
        s = parley.services
        for email, name in (("ann@acme.io", "Ann Admin"), ("bob@acme.io", "Bob Builder")):
            add_admin(AddAdmin(parley.app_id, email, name), s.store, clock)
            set_password(SetPassword(email, PASSWORD), s.store, clock)
        yield parley


def writes_in(parley: Parley, user_id: str, name: str, body: str) -> str:
    s = parley.services
    user = ping(s, parley.app_id, {"user_id": user_id, "name": name}).user
    started = start_by_user(StartConversation(parley.app_id, user.id.hex, body), s.store, s.clock)
    return started.conversation_id


@contextmanager
def teammate_page(browser: Browser, parley: Parley, email: str) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{parley.url}/signin")
    sign_in_page(page, parley.url, parley.app_id, email)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors in the dashboard: {errors}"


def rows(page: Page) -> list[str]:
    return page.locator("#inbox-list .conversations .name").all_inner_texts()


def test_two_teammates_see_each_others_changes_live(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with team(tmp_path, clock) as parley:
        talk = writes_in(parley, "jo", "Jo Jones", "The export is stuck")
        base = f"{parley.url}/apps/{parley.app_id}/inbox"
        with (
            teammate_page(browser, parley, "ann@acme.io") as ann,
            teammate_page(browser, parley, "bob@acme.io") as bob,
        ):
            bob.goto(f"{base}?view=unassigned")
            expect(bob.locator("#inbox-list .conversations .name")).to_have_text(["Jo Jones"])
            ann.goto(f"{base}/{talk}?view=all")
            expect(ann.get_by_role("heading", name="Conversation with Jo Jones")).to_be_visible()

            # Ann hands it to Bob: it leaves Bob's Unassigned list, and his title counts it.
            ann.get_by_label("Assign to").select_option(label="Bob Builder")
            ann.get_by_label("Note for them (optional, private)").fill("Yours, Bob")
            ann.get_by_role("button", name="Assign").click()
            expect(ann.locator("#conversation-assignee")).to_have_text("assigned to Bob Builder")
            expect(bob.locator("#inbox-list .conversations li")).to_have_count(0, timeout=LIVE_MS)
            expect(bob.locator("#inbox-link .count")).to_have_text("1 need you", timeout=LIVE_MS)
            expect(bob).to_have_title("(1) Inbox · Acme · Parley", timeout=LIVE_MS)

            # A new conversation reaches Bob's open list; Bob opens Jo's and Ann's note shows up.
            writes_in(parley, "max", "Max Moe", "Hello there")
            expect(bob.locator("#inbox-list .conversations .name")).to_have_text(
                ["Max Moe"], timeout=LIVE_MS
            )
            bob.goto(f"{base}/{talk}?view=mine")
            # Jo's is read now; Max's waits for someone.
            expect(bob).to_have_title("(1) Jo Jones · Inbox · Acme · Parley")
            ann.get_by_role("radio", name="Note").check()
            ann.get_by_label("Your reply or note").fill("Jo is on the **pro** plan")
            ann.get_by_role("button", name="Send").click()
            note = bob.locator(".thread .line.note").last
            expect(note).to_contain_text("Jo is on the pro plan", timeout=LIVE_MS)
            expect(note).to_contain_text("Private note · the user never sees it")

            # The user replies: Ann's list moves Jo to the top with the new words; Ann closes
            # it and Bob's view of it says so.
            clock.advance(minutes=1)
            jo = ping(parley.services, parley.app_id, {"user_id": "jo"}).user
            s = parley.services
            user = {"type": "user", "id": jo.id.hex}
            reply(Reply(parley.app_id, talk, user, "comment", body="Any news?"), s.store, clock)
            first = ann.locator("#inbox-list .conversations li").first
            expect(first).to_contain_text("Any news?", timeout=LIVE_MS)
            expect(bob.locator(".thread .line").last).to_contain_text("Any news?", timeout=LIVE_MS)
            ann.get_by_role("button", name="Close conversation").click()
            expect(bob.locator("#conversation-state")).to_have_text("Closed", timeout=LIVE_MS)
            # Bob had started typing: the live refresh leaves his words alone.
            bob.get_by_label("Your reply or note").fill("Half-written answer")
            reply(Reply(parley.app_id, talk, user, "comment", body="Thanks"), s.store, clock)
            expect(bob.locator(".thread .line").last).to_contain_text("Thanks", timeout=LIVE_MS)
            expect(bob.get_by_label("Your reply or note")).to_have_value("Half-written answer")


def test_a_reply_and_a_note_from_the_inbox_reach_the_widget_as_the_reply_alone(
    browser: Browser,
    tmp_path: Path,
    clock: ManualClock,
    site: CustomerSite,
    open_tab: Callable[[], Tab],
) -> None:
    with team(tmp_path, clock) as parley:
        s = parley.services
        set_inbox_style(SetInboxStyle(parley.app_id, "simple", colour="#0a7"), s.store, clock)
        talk = writes_in(parley, "jo", "Jo", "How do I export?")
        with teammate_page(browser, parley, "ann@acme.io") as ann:
            ann.goto(f"{parley.url}/apps/{parley.app_id}/inbox/{talk}")
            box = ann.get_by_label("Your reply or note")
            box.fill("Use the *Export* button")
            box.press("Control+Enter")
            expect(ann.locator(".thread .line").last).to_contain_text("Use the Export button")
            expect(box).to_be_focused()  # emptied, ready for more
            expect(box).to_have_value("")
            ann.keyboard.press("n")  # typed, not a shortcut: the box has the focus
            expect(box).to_have_value("n")
            ann.keyboard.press("Escape")
            ann.keyboard.press("n")
            expect(box).to_be_focused()
            expect(ann.get_by_role("radio", name="Note")).to_be_checked()
            box.fill("PRIVATE: asked twice")
            ann.get_by_role("button", name="Send").click()
            expect(ann.locator(".thread .line.note")).to_contain_text("PRIVATE: asked twice")
            assert problems_free(ann)

        _, loader = snippet(parley.app_id, parley.url)
        settings = {"app_id": parley.app_id, "user_id": "jo", "name": "Jo"}
        tab = open_tab()
        tab.open(site.publish(html(settings_block(settings), loader)))
        tab.page.click(".parley-launcher")
        tab.page.locator(".parley-conversation").first.click()
        thread = tab.page.frame_locator(".parley-box .parley-thread")  # the widget's frame
        thread.locator(".part em", has_text="Export").wait_for()
        shown = thread.locator("body").inner_text()
        assert "How do I export?" in shown and "Use the Export button" in shown
        assert "PRIVATE" not in shown and "asked twice" not in shown


def problems_free(page: Page) -> bool:
    """axe-core finds no serious or critical violation on the page as it stands."""
    found = serious(page)
    assert found == [], found
    return True


def test_the_keyboard_moves_replies_assigns_and_closes_but_not_while_typing(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with team(tmp_path, clock) as parley:
        for user_id, name in (("a", "Abe"), ("b", "Bea"), ("c", "Cy")):
            writes_in(parley, user_id, name, f"Question from {name}")
            clock.advance(minutes=1)
        with teammate_page(browser, parley, "ann@acme.io") as ann:
            ann.goto(f"{parley.url}/apps/{parley.app_id}/inbox?view=all")
            expect(ann.locator("#inbox-list .conversations .name")).to_have_text(
                ["Cy", "Bea", "Abe"]
            )
            assert problems_free(ann)
            for key, name in (("j", "Cy"), ("j", "Bea"), ("k", "Cy")):
                ann.keyboard.press(key)
                expect(ann.get_by_role("heading", name=f"Conversation with {name}")).to_be_visible()
                ann.wait_for_load_state()  # its script listens for keys once the page has loaded
            assert problems_free(ann)

            ann.keyboard.press("r")
            box = ann.get_by_label("Your reply or note")
            expect(box).to_be_focused()
            ann.keyboard.type("jk can be typed, c and a too")
            expect(box).to_have_value("jk can be typed, c and a too")
            expect(ann.get_by_role("heading", name="Conversation with Cy")).to_be_visible()
            ann.keyboard.press("Escape")
            ann.keyboard.press("a")
            expect(ann.get_by_label("Assign to")).to_be_focused()
            ann.keyboard.press("Escape")
            ann.keyboard.press("?")
            dialog = ann.get_by_role("dialog", name="Keyboard shortcuts")
            expect(dialog).to_be_visible()
            ann.keyboard.press("Escape")
            expect(dialog).to_be_hidden()
            ann.keyboard.press("c")
            expect(ann.locator("#conversation-state")).to_have_text("Closed")
            expect(ann.get_by_role("button", name="Reopen conversation")).to_be_visible()
            expect(box).to_have_value("jk can be typed, c and a too")  # closing keeps the draft
