"""An axe-core check (axe-playwright-python, which carries its own copy of axe) of each main
page of the dashboard in Chromium: sign-in, the user list with the filter bar built out, a
profile, companies and a company, tags and segments, each settings page and the teammate's
own account. None may have a serious or critical violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from commands.handling import handle
from commands.tags import SaveTag, UserRef, save_tag
from commands.tracking import TrackEvent, track_event
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_dashboard_browser import sign_in_page
from tests.e2e.test_widget_browser import TIMEOUT_MS, served_parley
from tests.helpers import ping

browser = harness.browser
PASSWORD = "correct horse battery"
AXE = Axe()


def serious(page: Page) -> list[str]:
    """The page's serious and critical violations, each with where it is."""
    found: dict[str, Any] = AXE.run(page).response
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_main_pages_have_no_serious_or_critical_accessibility_violations(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock, live=True) as parley:
        s, app_id = parley.services, parley.app.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        for i, name in enumerate(("Abe Ames", "Bea Blum", "Cleo Cruz")):
            settings = {
                "user_id": f"u{i}",
                "name": name,
                "email": f"u{i}@example.com",
                "plan": "pro",
                "company": {"id": "acme", "name": "Acme Inc", "monthly_spend": 120},
            }
            ping(s, app_id, settings)
        handle(save_tag, SaveTag(app_id, "VIP", users=[UserRef(user_id="u0")]), s.store, clock)
        track_event(TrackEvent(app_id, "created-project", user_id="u0"), s.store, clock)
        user = ping(s, app_id, {"user_id": "u0"}).user.id.hex
        s.runner.catch_up()
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"{parley.url}/signin")
        problems = serious(page)
        sign_in_page(page, parley.url, app_id)
        # The filter bar with rows of each kind of value box.
        for attribute in ("custom.plan", "last_seen_at", "tag"):
            page.get_by_role("button", name="+ Add condition").click()
            page.locator(".fb-row").last.locator("select").first.select_option(attribute)
        page.locator("details.columns summary").click()
        problems += serious(page)
        base = f"{parley.url}/apps/{app_id}"
        pages = [
            f"{base}/users/{user}",
            f"{base}/companies",
            f"{base}/tags",
            f"{base}/settings",
            f"{base}/settings/security",
            f"{base}/settings/api",
            f"{base}/settings/inbox",
            f"{base}/settings/teammates",
            f"{base}/account",
        ]
        for url in pages:
            page.goto(url)
            problems += serious(page)
        page.goto(f"{base}/companies")
        page.locator("tbody a").first.click()
        page.wait_for_url(f"{base}/companies/*")
        problems += serious(page)
        context.close()
        assert problems == [], "\n".join(problems)
