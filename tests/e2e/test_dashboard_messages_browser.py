"""Writing messages in Chromium (issue 15): an email composed from a filtered user list with
a variable put in by "Insert data" and its preview read in the sandboxed frame; an in-app
message sent from the list that appears in the widget on a customer's page, then stopped, so
a user who had not been back never sees it; errors appearing beside their fields as one
types; XSS payloads as user names, subjects and bodies running nowhere in these pages; and
axe-core finding no serious or critical violation on the composer, the list and a message."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from commands.handling import handle
from commands.manual_messages import ComposeManual, send_manual
from domain.errors import InvalidValue
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_dashboard_a11y import serious
from tests.e2e.test_dashboard_browser import PASSWORD, sign_in_page
from tests.e2e.test_dashboard_xss import WATCH, as_read, payloads
from tests.e2e.test_widget_browser import (
    RECORD_PINGS,
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
PRO = {"attribute": "custom.plan", "operator": "is", "value": "pro"}


@pytest.fixture
def parley(tmp_path: Path, clock: ManualClock) -> Iterator[Parley]:
    """Parley live (its projections and reactions running), with Ann, a teammate, and four
    users: three on the pro plan."""
    with served_parley(tmp_path, clock, live=True) as served:
        s, app_id = served.services, served.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        for user_id, name, plan in (
            ("abe", "Abe Ames", "pro"),
            ("bea", "Bea Blum", "pro"),
            ("cleo", "", "pro"),
            ("dan", "Dan Dee", "free"),
        ):
            settings = {"user_id": user_id, "email": f"{user_id}@example.com", "plan": plan}
            ping(s, app_id, {**settings, **({"name": name} if name else {})})
        s.runner.catch_up()
        yield served


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context()
    made.set_default_timeout(TIMEOUT_MS)
    yield made
    made.close()


def dashboard_problems(page: Page) -> list[str]:
    """JavaScript errors and console errors of the dashboard's own documents (the email
    preview's sandboxed frame reports the email's inline styles, which the policy refuses)."""
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        framed = "about:srcdoc" in (message.location or {}).get("url", "")
        styled = "Content Security Policy" in message.text and "inline style" in message.text
        if message.type == "error" and not framed and not styled:
            problems.append(message.text)

    page.on("console", note)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def filtered_list(page: Page, parley: Parley) -> None:
    sign_in_page(page, parley.url, parley.app_id)
    page.goto(f"{parley.url}/apps/{parley.app_id}/users?filter={json.dumps(PRO)}")
    expect(page.locator("#total")).to_have_text("3 users match")


def test_an_email_from_a_filtered_list_with_a_variable_is_previewed_then_sent(
    parley: Parley, context: BrowserContext, tmp_path: Path
) -> None:
    page = context.new_page()
    problems = dashboard_problems(page)
    filtered_list(page, parley)
    page.get_by_role("radio", name=re.compile("All 3 users")).check()
    page.get_by_role("button", name="Manual Message").click()
    page.wait_for_url("**/messages/new")
    expect(page.locator("#reach")).to_contain_text("This will reach 3 users")
    page.get_by_role("radio", name="Email").check()
    page.get_by_label("Subject").fill("Exports are here")
    body = page.locator("#body")
    body.fill("Hey , we shipped exports.")
    body.evaluate("b => { b.focus(); b.setSelectionRange(4, 4); }")
    page.get_by_label("Insert data").select_option("first_name")
    page.get_by_label("Fallback, for users without it").fill("there")
    page.get_by_role("button", name="Insert").click()
    expect(body).to_have_value('Hey {{ first_name | fallback:"there" }}, we shipped exports.')
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.locator("body")).to_contain_text("Hey there, we shipped exports.")
    # Into the subject too, when it was written in last.
    page.get_by_label("Subject").fill("Exports for ")
    page.get_by_label("Fallback, for users without it").fill("you")
    page.get_by_role("button", name="Insert").click()
    expect(page.get_by_label("Subject")).to_have_value(
        'Exports for {{ first_name | fallback:"you" }}'
    )
    page.get_by_label("Preview for").fill("bea@example.com")
    expect(frame.locator("body")).to_contain_text("Hey Bea, we shipped exports.")
    expect(page.locator(".email-head")).to_contain_text("Exports for Bea")
    expect(page.locator(".email-text")).to_contain_text("Hey Bea, we shipped exports.")
    expect(page.locator(".email-head")).to_contain_text("Ann Admin <ann@acme.io>")
    # The frame runs nothing: no scripts, another origin.
    assert page.locator("iframe.email-frame").get_attribute("sandbox") == ""
    page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.get_by_role("alertdialog", name="Send this email now?")
    expect(dialog).to_contain_text("cannot be edited or stopped")
    dialog.get_by_role("button", name="Send the email now").click()
    page.wait_for_url(re.compile(r".*/messages/[0-9a-f]{32}$"))
    expect(page.get_by_text("This email was sent: an email, once sent, cannot be")).to_be_visible()
    expect(page.get_by_role("link", name="Edit content")).to_have_count(0)
    assert problems == []


def customer_page(parley: Parley, site: CustomerSite, context: BrowserContext, user: str) -> Tab:
    _, loader = snippet(parley.app_id, parley.url)
    settings = {"app_id": parley.app_id, "user_id": user}
    context.add_init_script(RECORD_PINGS)
    tab = Tab(context.new_page())
    tab.open(site.publish(html(settings_block(settings), loader)))
    tab.ping(1)
    return tab


def test_an_in_app_message_reaches_the_widget_and_once_stopped_no_one_else_sees_it(
    parley: Parley, site: CustomerSite, context: BrowserContext, browser: Browser
) -> None:
    page = context.new_page()
    problems = dashboard_problems(page)
    filtered_list(page, parley)
    page.get_by_role("radio", name=re.compile("All 3 users")).check()
    page.get_by_role("button", name="Manual Message").click()
    page.get_by_role("radio", name="Conversation").check()
    page.locator("#body").fill('Hi {{ first_name | fallback:"friend" }}, **exports** are live.')
    preview = page.locator(".wp-message")
    expect(preview).to_contain_text("Hi friend, exports are live.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r".*/messages/[0-9a-f]{32}$"))
    message_page = page.url
    # Abe comes back to the customer's app: the popup shows, as the preview drew it.
    customers = browser.new_context()
    customers.set_default_timeout(TIMEOUT_MS)
    abe = customer_page(parley, site, customers, "abe")
    popup = abe.page.frame_locator(".parley-message iframe").locator("body")  # its body's frame
    expect(popup).to_contain_text("Hi Abe, exports are live.")
    # Stopped (after a confirmation) before Bea comes back: she never sees it.
    page.goto(message_page)
    page.get_by_role("link", name="Stop…").click()
    expect(page.get_by_role("heading", name="Stop this message?")).to_be_visible()
    page.get_by_role("button", name="Stop the message").click()
    expect(page.locator(".badge", has_text="Stopped")).to_be_visible()
    bea = customer_page(parley, site, customers, "bea")
    assert bea.ping(1)["body"]["messages"] == []
    expect(bea.page.locator(".parley-message")).to_have_count(0)
    customers.close()
    parley.services.runner.wait_for(parley.services.store.head())
    page.reload()
    recipients = page.locator(".recipients tbody tr")
    expect(recipients.filter(has_text="Abe Ames")).to_contain_text("Shown")
    expect(recipients.filter(has_text="Bea Blum")).to_contain_text("Withdrawn")
    page.get_by_role("link", name="Messages").first.click()
    expect(page.locator("table.messages tbody tr").first).to_contain_text("Stopped")
    assert problems == []


def test_errors_show_beside_their_fields_as_one_types(
    parley: Parley, context: BrowserContext
) -> None:
    page = context.new_page()
    problems = dashboard_problems(page)
    filtered_list(page, parley)
    page.get_by_role("link", name="Auto Message").click()
    page.wait_for_url("**/messages/new?**")
    expect(page.locator(".conditions")).to_contain_text("plan is “pro”")
    body = page.locator("#body")
    body.fill("Hi {{ shoe_size }}")
    expect(page.locator("#error-body")).to_contain_text("unknown variable 'shoe_size'")
    expect(body).to_have_attribute("aria-invalid", "true")
    body.fill("Hi {{ first_name }}")
    expect(page.locator("#error-body")).to_be_empty()
    expect(body).not_to_have_attribute("aria-invalid", "true")
    page.get_by_text("Advanced").click()
    page.get_by_label("Show only on pages at").fill("billing page")
    expect(page.locator("#error-url")).to_contain_text("whole address")
    page.get_by_label("Show only on pages at").fill("https://app.example.com/billing*")
    expect(page.locator("#error-url")).to_be_empty()
    page.get_by_label("Stop after").fill("2020-01-01")
    expect(page.locator("#error-stop_at")).to_contain_text("has passed")
    page.get_by_role("button", name="Start auto message").click()
    expect(page.locator("#error-stop_at")).to_contain_text("has passed")  # the server's page
    assert "/messages/new" in page.url
    assert parley.services.store.head() == head_without_messages(parley)
    assert problems == [
        "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
    ]


def head_without_messages(parley: Parley) -> int:
    """The log's head, which no message has moved (asserted: none was saved)."""
    topics = [n.topic for n in parley.services.store.recorder.select_notifications(1, 10_000)]
    assert not [t for t in topics if "Message.Created" in t]
    return parley.services.store.head()


def nothing_ran_here(page: Page) -> None:
    """No payload ran: nothing called alert and friends, nothing broke the policy, and no
    element carries a handler, a script or a javascript: address (a message's own images,
    tables and links are what the seed's tag list allows)."""
    assert page.evaluate("window.__ran") == []
    found = page.evaluate(
        """() => [...document.querySelectorAll('main script:not([type="application/json"]),'
              + ' main object, main embed, main [onerror], main [onload], main [onclick],'
              + ' main [onmouseover], main [onfocus], main [style], main a[href^="javascript"],'
              + ' main iframe:not([sandbox=""])')].map(e => e.outerHTML.slice(0, 80))"""
    )
    assert found == []


def test_payloads_in_names_subjects_and_bodies_run_nowhere_in_the_message_pages(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock, live=True) as parley:
        s, app_id = parley.services, parley.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        every = payloads()
        keys = [
            ping(s, app_id, {"user_id": f"u{i}", "name": p, "email": f"u{i}@example.com"}).user
            for i, p in enumerate(every)
        ]
        written = 0
        for i, payload in enumerate(every[:60]):
            cmd = ComposeManual(
                app_id=app_id,
                message_type="conversation" if i % 2 else "email",
                admin_id="1",
                subject=payload[:255],
                body=payload + ' {{ name | fallback:"x" }}',
                markup="html" if i % 3 else "markdown",
                style="official",
                custom_keys=set(),
                # An in-app copy is saved with its message; emails wait for the fan-out.
                recipients=[u.id.hex for u in keys[i : i + (1 if i % 2 else 30)]],
                at_once=bool(i % 2),
            )
            try:
                handle(send_manual, cmd, s.store, clock)
                written += 1
            except InvalidValue:  # a payload the composer refuses, as it would here
                pass
        assert written >= 20
        s.runner.wait_for(s.store.head())
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(WATCH)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append("dialog: " + dialog.message))
        sign_in_page(page, parley.url, app_id)
        readable = {as_read(p) for p in every}
        page.goto(f"{parley.url}/apps/{app_id}/messages")
        nothing_ran_here(page)
        assert page.locator("td.title a bdi").count() == 30  # one page of the list
        audiences = set(page.locator("td.to bdi").all_text_contents())
        assert audiences - {"30 chosen users"} <= readable  # one user: their name, as text
        links = page.locator("td.title a").evaluate_all("as => as.map(a => a.href)")
        named = 0
        for link in links[:10]:
            page.goto(link)
            nothing_ran_here(page)
            names = set(page.locator(".recipients td.name a bdi").all_text_contents())
            assert names <= readable
            named += bool(names)
        assert named >= 5  # the in-app ones at least
        # The composer's preview as users named with payloads: their names read as text.
        page.goto(f"{parley.url}/apps/{app_id}/users")
        page.locator("input[name=ids]").first.check()
        page.get_by_role("button", name="Manual Message").click()
        page.locator("#body").fill('{{ name | fallback:"x" }}!')
        for i in (0, 7, 42, 99):
            page.get_by_label("Preview for").fill(f"u{i}@example.com")
            expect(page.locator(".wp-message .message-body")).to_have_text(as_read(every[i]) + "!")
            nothing_ran_here(page)
        # Payloads written as the body, in HTML, previewed in place.
        page.get_by_role("radio", name="HTML").check()
        for payload in every[:40:4]:
            with page.expect_response(lambda r: r.url.endswith("/messages/new")):
                page.locator("#body").fill(payload)
            nothing_ran_here(page)
        page.locator("#body").fill('{{ name | fallback:"x" }}!')
        page.get_by_role("radio", name="Email").check()
        page.get_by_label("Subject").fill("{{ name }}")
        expect(page.locator(".email-head dd").nth(1)).to_have_text(as_read(every[99]).strip())
        nothing_ran_here(page)
        context.close()
        assert errors == []


def test_the_composer_the_list_and_a_message_page_pass_axe(
    parley: Parley, context: BrowserContext
) -> None:
    page = context.new_page()
    filtered_list(page, parley)
    page.get_by_role("radio", name=re.compile("All 3 users")).check()
    page.get_by_role("button", name="Manual Message").click()
    page.get_by_role("radio", name="Email").check()
    page.get_by_label("Subject").fill("News")
    page.locator("#body").fill("Hi {{ shoe_size }}")
    expect(page.locator("#error-body")).not_to_be_empty()
    page.locator("#body").fill('Hi {{ first_name | fallback:"there" }}')
    expect(page.frame_locator("iframe.email-frame").locator("body")).to_contain_text("Hi there")
    page.get_by_text("Advanced").click()
    problems = serious(page)
    page.get_by_role("radio", name="Inbox").check()
    expect(page.locator(".wp-box")).to_be_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r".*/messages/[0-9a-f]{32}$"))
    problems += serious(page)
    page.get_by_role("link", name="Edit content").click()
    expect(page.locator(".wp-box")).to_be_visible()  # its preview
    problems += serious(page)
    page.goto(f"{parley.url}/apps/{parley.app_id}/messages")
    expect(page.locator("table.messages tbody tr")).to_have_count(1)
    problems += serious(page)
    assert problems == [], "\n".join(problems)
