"""The dashboard in headless Chromium: a teammate signs in by keyboard and reads the user list,
sorts it by a column, and nothing on the way breaks the page's Content-Security-Policy (htmx
included: its indicator styles are off) or raises a JavaScript error."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, CreateApp, add_admin, create_app, recent_app
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
        names = page.locator("td.name a").all_inner_texts()
        assert names == ["Cleo", "Bea", "Abe"]  # descending first
        page.get_by_role("link", name="Name").click()
        page.wait_for_url("**order=asc**")
        assert page.locator("td.name a").all_inner_texts() == ["Abe", "Bea", "Cleo"]
        # A filter the server cannot use is explained in place.
        page.get_by_text("Filter as JSON").click()
        page.get_by_label("Filter (the JSON of GET /users?filter=)").fill(
            '{"attribute": "session_count", "operator": "gt", "value": "many"}'
        )
        page.get_by_role("button", name="Apply filter").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "This list cannot be shown" in alert.inner_text()
        assert "expected a number" in alert.inner_text()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signin")
        context.close()
        expected = (
            "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
        )
        assert problems in ([], [expected])


def sign_in_page(page: Page, base: str, app_id: str, email: str = "ann@acme.io") -> None:
    """Sign in on the page's sign-in form as a teammate would, landing on the user list."""
    if not page.url.endswith("/signin"):
        page.goto(f"{base}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/apps/{app_id}/users")


def _note(problems: list[str], message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        problems.append(message.text)


def test_a_three_condition_filter_built_in_the_bar_is_saved_and_its_users_tagged(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock, live=True) as parley:
        s, app_id = parley.services, parley.app.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        for name, plan, seats in (
            ("Abe", "pro", 5),
            ("Bea", "pro", 50),
            ("Cleo", "free", 50),
            ("Dan", "pro", 40),
        ):
            email = f"{name.lower()}@example.com" if name != "Dan" else "dan@elsewhere.org"
            settings = {"user_id": name.lower(), "name": name, "email": email}
            ping(s, app_id, {**settings, "plan": plan, "seats": seats})
        s.runner.catch_up()
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: _note(problems, m))
        page.on("pageerror", lambda error: problems.append(str(error)))
        sign_in_page(page, parley.url, app_id)
        # First condition with the mouse: plan is pro.
        page.get_by_role("button", name="+ Add condition").click()
        page.get_by_label("Condition 1: attribute").select_option("custom.plan")
        page.get_by_label("Condition 1: operator").select_option("is")
        page.get_by_label("Condition 1: value").fill("pro")
        # Second by keyboard: Enter on the add button, then Tab from field to field.
        page.get_by_role("button", name="+ Add condition").focus()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id").startswith("fb-attr-")
        page.get_by_label("Condition 2: attribute").select_option("custom.seats")
        page.get_by_label("Condition 2: attribute").focus()
        page.keyboard.press("Tab")  # the operator
        page.get_by_label("Condition 2: operator").select_option("gte")
        page.keyboard.press("Tab")  # the value
        page.keyboard.type("10")
        # Third: email contains example.
        page.get_by_role("button", name="+ Add condition").click()
        page.get_by_label("Condition 3: attribute").select_option("email")
        page.get_by_label("Condition 3: operator").select_option("contains")
        page.get_by_label("Condition 3: value").fill("example")
        page.evaluate("window.stayed = true")
        page.get_by_role("button", name="Apply filter").click()
        page.wait_for_url("**filter=**")
        page.locator("#total", has_text="1 user matches").wait_for()
        assert page.evaluate("window.stayed") is True  # updated in place by htmx
        assert page.locator("#total").inner_text() == "1 user matches"
        assert page.locator("td.name a").all_inner_texts() == ["Bea"]
        # The bar shows the filter it came from, and the URL holds the JSON.
        assert page.get_by_label("Condition 2: value").input_value() == "10"
        # Save it as a segment.
        page.get_by_text("Save as segment").click()
        page.get_by_label("Segment name").fill("Big pro teams")
        page.get_by_role("button", name="Save segment").click()
        page.wait_for_url("**/users?filter=*segment*")
        assert page.get_by_role("status").first.inner_text() == "Saved the segment “Big pro teams”."
        side = page.get_by_role("complementary", name="Segments and tags")
        chosen = side.get_by_role("link", name="Big pro teams")
        assert chosen.get_attribute("aria-current") == "page"
        # Tag everyone it matches.
        page.get_by_label("All 1 user matching").check()
        page.get_by_label("Tag", exact=True).fill("Upsell")
        page.get_by_role("button", name="Tag", exact=True).click()
        page.wait_for_load_state()
        assert page.get_by_role("status").first.inner_text() == "Tagged 1 user “Upsell”."
        # A profile from the list, and from a deep link.
        page.get_by_role("link", name="Bea").click()
        page.wait_for_url(f"**/apps/{app_id}/users/*")
        assert page.get_by_role("heading", level=1).inner_text() == "Bea"
        # A tag added on the profile appears in place (htmx), the page not reloaded.
        page.evaluate("window.stayed = true")
        page.get_by_label("Add a tag").fill("Champion")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Remove the tag Champion").wait_for()
        assert page.evaluate("window.stayed") is True
        page.get_by_role("button", name="Remove the tag Upsell").click()
        page.get_by_role("button", name="Remove the tag Upsell").wait_for(state="detached")
        page.goto(f"{parley.url}/apps/{app_id}/users/show?email=dan@elsewhere.org")
        assert page.get_by_role("heading", level=1).inner_text() == "Dan"
        # A setting: the inbox style, as the widget will read it.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
        page.get_by_role("navigation", name="Settings").get_by_role("link", name="Inbox").click()
        page.get_by_label("Simple").check()
        page.get_by_role("button", name="Save inbox style").click()
        page.get_by_text("Saved: the inbox style is now “simple”.").wait_for()
        assert recent_app(s.store, app_id).inbox_style == "simple"
        assert problems == []
        # Another app's page is not found; a form posted without its token changes nothing.
        other = create_app(CreateApp("Other"), s.store, clock)
        theirs = page.goto(f"{parley.url}/apps/{other.app_id}/users")
        assert theirs is not None and theirs.status == 404
        tokenless = page.request.post(
            f"{parley.url}/apps/{app_id}/users/bulk", form={"action": "delete", "scope": "all"}
        )
        assert tokenless.status == 400
        page.goto(f"{parley.url}/apps/{app_id}/users")
        assert page.locator("#total").inner_text() == "4 users in all"
        context.close()
        assert problems == [
            "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
        ]
