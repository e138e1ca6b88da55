"""The README's pictures of the widget's message types: `make screenshots` runs it too.

A Parley on a temporary SQLite database and a customer's page on another port, in-process
(the tests' harness: tests/e2e/test_widget_browser.py); one auto message of each type, each
shown to its own user; saved as docs/widget-*.png at 1280 x 800, and the conversation at
375 x 667 (Debian's Chromium).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.apps import SetInboxStyle, set_inbox_style
from commands.clock import ManualClock
from tests.e2e.test_widget_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RECORD_PINGS,
    CustomerSite,
    Parley,
    Tab,
    served_parley,
)
from tests.e2e.test_widget_inbox import the_team
from tests.e2e.test_widget_popups import message, page_for

DOCS = Path(__file__).parent
WORDS = {
    "conversation": "Hi there! I saw you tried **PDF export**. Did it do what you needed?",
    "announcement": (
        "## Meet the new reports\n\nEvery chart now has a **Download** button, and reports "
        "can be emailed to your team each Monday. [Read the guide](https://example.com).\n\n"
        "Questions? Reply right here."
    ),
    "notification": "Your trial ends in **3 days**. [See the plans](https://example.com).",
}
SHOTS = [("conversation", 1280, 800), ("announcement", 1280, 800), ("notification", 1280, 800)]
SHOTS += [("conversation", 375, 667)]


def shoot(browser: Browser, live: Parley, site: CustomerSite, kind: str, w: int, h: int) -> Path:
    context = browser.new_context(viewport={"width": w, "height": h})
    context.add_init_script(RECORD_PINGS)
    tab = Tab(context.new_page())
    tab.open(page_for(live, site, f"/app/{kind}", f"{kind}-{w}"))
    tab.page.locator(f".parley-popup-{kind}").wait_for()
    tab.page.frame_locator(f".parley-popup-{kind} iframe").locator("p").first.wait_for()
    tab.page.wait_for_timeout(300)  # the frame sizes itself to its content
    target = DOCS / (f"widget-{kind}.png" if w >= 480 else f"widget-{kind}-small.png")
    tab.page.screenshot(path=str(target))
    context.close()
    return target


def main() -> int:
    clock = ManualClock(datetime.now(UTC))
    with (
        tempfile.TemporaryDirectory() as folder,
        served_parley(Path(folder), clock, live=True) as live,
        sync_playwright() as playwright,
    ):
        set_inbox_style(
            SetInboxStyle(live.app_id, "simple", colour="#1f6fd1"), live.services.store, clock
        )
        the_team(live.services, live.app_id)
        site = CustomerSite()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for kind, words in WORDS.items():
                message(live, kind, words, f"{site.url}/app/{kind}")
            for kind, w, h in SHOTS:
                print("saved", shoot(browser, live, site, kind, w, h).relative_to(DOCS.parent))
        finally:
            browser.close()
            site.served.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
