"""The dashboard in headless Chromium: a teammate signs in by keyboard and reads the user list,
sorts it by a column, and nothing on the way breaks the page's Content-Security-Policy (htmx
included: its indicator styles are off) or raises a JavaScript error."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_widget_browser import TIMEOUT_MS, served_parley
from tests.helpers import ping

browser = harness.browser
PASSWORD = "correct horse battery"


def test_a_teammate_signs_in_by_keyboard_and_sorts_the_user_list(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock) as parley:
        s, app_id = parley.services, parley.app.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        for name in ("Cleo", "Abe", "Bea"):
            ping(s, app_id, {"user_id": name.lower(), "name": name})
        s.runner.catch_up()
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: _note(problems, m))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{parley.url}/apps/{app_id}/users")
        assert "/signin" in page.url
        page.get_by_label("Email").fill("ann@acme.io")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/apps/{app_id}/users")
        assert page.locator("#total").inner_text() == "3 users in all"
        assert (
            page.get_by_role("navigation", name="Main").get_by_role("link").first.inner_text()
            == "Users"
        )
        page.get_by_role("link", name="Name").click()
        page.wait_for_url("**sort=name**")
        names = page.locator("td.name").all_inner_texts()
        assert names == ["Cleo", "Bea", "Abe"]  # descending first
        page.get_by_role("link", name="Name").click()
        page.wait_for_url("**order=asc**")
        assert page.locator("td.name").all_inner_texts() == ["Abe", "Bea", "Cleo"]
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signin")
        context.close()
        assert problems == []


def _note(problems: list[str], message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        problems.append(message.text)
