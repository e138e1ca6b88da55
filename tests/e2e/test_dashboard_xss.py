"""What end users send, shown to the team: 236 XSS vectors from DOMPurify's and markdown-it's
suites (tests/e2e/corpora/xss, a copy of the workplace's shared corpus with its NOTICE) put
in users' names, emails' local parts, custom data keys and values, company names, tag names
and tracked event names, then read in real Chromium on the user list (custom columns shown),
the filter bar (which builds its menus from the same data), a profile and the companies
list. None may run: no dialog, no Content-Security-Policy violation (the CSP would stop an
inline script; escaping must make it never try), no element made from a payload, and each
payload reads back as the very text it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from commands.handling import handle
from commands.preferences import PickColumns, pick_columns
from commands.tags import SaveTag, UserRef, save_tag
from commands.tracking import TrackEvent, track_event
from domain.values import CUSTOM_KEY, MAX_STRING
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_dashboard_browser import sign_in_page
from tests.e2e.test_widget_browser import TIMEOUT_MS, served_parley
from tests.helpers import ping

browser = harness.browser
PASSWORD = "correct horse battery"
CORPUS = Path(__file__).parent / "corpora" / "xss" / "vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(CORPUS.read_text())["vectors"]

# Listen for what a payload that ran would do, before any page script.
WATCH = """
window.__ran = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__ran.push(name + ":" + args.join(",")); };
}
document.addEventListener("securitypolicyviolation", (e) => {
  window.__ran.push("csp:" + e.violatedDirective + ":" + (e.sample || e.blockedURI));
});
"""


def watched(browser: Browser) -> tuple[Page, list[str]]:
    """A page in a fresh context that notes what a payload that ran would do (WATCH), page
    errors and dialogs; close its context when done."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append("dialog: " + dialog.message))
    return page, errors


def payloads() -> list[str]:
    """Each vector, cut to what Parley accepts for a string (NULs are refused on input)."""
    return [v["payload"][:MAX_STRING] for v in VECTORS if "\x00" not in v["payload"]]


def as_read(payload: str) -> str:
    """The text a browser reads back: HTML parsing turns CR LF and CR into LF."""
    return payload.replace("\r\n", "\n").replace("\r", "\n")


def seed(parley: Any, clock: ManualClock) -> str:
    s, app_id = parley.services, parley.app.app_id
    add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
    set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
    every = payloads()
    for i, payload in enumerate(every):
        settings: dict[str, Any] = {
            "user_id": f"u{i}",
            "name": payload,
            "note": payload,
            "company": {"id": f"c{i}", "name": payload},
        }
        ping(s, app_id, settings)
    # One user holds every payload as custom data (as keys too, where a key may be one),
    # as tags and as tracked events: one profile shows them all.
    custom: dict[str, Any] = {f"v{i}": p for i, p in enumerate(every)}
    custom.update({p[:190]: i for i, p in enumerate(every) if CUSTOM_KEY.match(p[:190])})
    victim = ping(s, app_id, {"user_id": "victim", "name": "Victim", **custom}).user.id.hex
    for payload in every[:60]:
        cmd = SaveTag(app_id, payload, users=[UserRef(user_id="victim")])
        handle(save_tag, cmd, s.store, clock)
    for payload in every[:60]:
        track_event(TrackEvent(app_id, payload, user_id="victim"), s.store, clock)
    handle(pick_columns, PickColumns("ann@acme.io", app_id, ["note"]), s.store, clock)
    s.runner.catch_up()
    return victim


def nothing_ran(page: Page) -> None:
    assert page.evaluate("window.__ran") == []
    injected = page.evaluate(
        """() => [...document.querySelectorAll('main script:not([type="application/json"]),'
              + ' main iframe, main object, main embed, main svg, main math, main img,'
              + ' main video, main audio, main form[action^="javascript"], main [onerror],'
              + ' main [onload], main [onclick], main [onmouseover], main [style]')]
              .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert injected == []


def test_no_payload_runs_on_the_list_the_filter_bar_a_profile_or_the_companies(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock) as parley:
        victim = seed(parley, clock)
        app_id = parley.app.app_id
        sent = payloads()
        every = [as_read(p) for p in sent]
        page, errors = watched(browser)
        sign_in_page(page, parley.url, app_id)

        shown: list[str] = []
        url: str | None = f"{parley.url}/apps/{app_id}/users?sort=name&order=asc"
        while url:
            page.goto(url)
            nothing_ran(page)
            shown += page.locator("td.name bdi").all_text_contents()
            custom_cells = page.locator("tbody td:last-child bdi").all_text_contents()
            odd = [c for c in custom_cells if c not in every and c != "—"]
            assert custom_cells and not odd, odd[:3]
            following = page.locator("a[rel=next]")
            url = following.get_attribute("href") if following.count() else None
            url = f"{parley.url}{url}" if url else None
        assert sorted(p for p in shown if p != "Victim") == sorted(every)

        # The filter bar's menus list every custom key and tag as text.
        page.get_by_role("button", name="+ Add condition").click()
        options = page.get_by_label("Condition 1: attribute").locator("option")
        labels = set(options.all_text_contents())
        assert {as_read(p[:190]) for p in sent if CUSTOM_KEY.match(p[:190])} <= labels
        nothing_ran(page)

        page.goto(f"{parley.url}/apps/{app_id}/users/{victim}")
        nothing_ran(page)
        values = set(page.locator(".facts dd bdi").all_text_contents())
        assert set(every) <= values
        tags = set(page.locator("#tags .chips li bdi").all_text_contents())
        assert set(every[:60]) <= tags
        events = set(
            page.locator("#events ~ table td bdi, #events + table td bdi").all_text_contents()
        )
        assert set(every[:60]) <= events

        page.goto(f"{parley.url}/apps/{app_id}/companies?sort=name&order=asc")
        nothing_ran(page)
        page.goto(f"{parley.url}/apps/{app_id}/tags")
        nothing_ran(page)
        assert set(every[:60]) <= set(page.locator("td.name bdi").all_text_contents())
        page.context.close()
        assert errors == []
