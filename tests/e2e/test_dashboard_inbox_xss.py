"""What users write, shown to the team in the inbox: the XSS corpus (tests/e2e/corpora/xss)
as users' names, the words they write in, the subjects of their emails, and, in one
conversation, as every comment the user writes and every note a teammate leaves (Markdown
rendered, then sanitised), read in real Chromium on every page of the inbox's list and on
that conversation while its live stream is open. Nothing may run: no dialog, no CSP
violation, no script, frame or event handler made from a payload; names read back as sent."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from commands.conversations import Reply, StartConversation, reply, start_by_user
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_dashboard_browser import sign_in_page
from tests.e2e.test_dashboard_xss import as_read, payloads, watched
from tests.e2e.test_widget_browser import served_parley
from tests.helpers import ping

browser = harness.browser
PASSWORD = "correct horse battery"


def nothing_ran(page: Page) -> None:
    """No payload ran or became markup that could: sanitised Markdown may hold plain links
    and images, never a script, a frame, a handler or a javascript: address."""
    assert page.evaluate("window.__ran") == []
    made = page.evaluate(
        """() => [...document.querySelectorAll('main *')].filter(e =>
              ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'SVG', 'MATH', 'BASE', 'META', 'LINK',
               'STYLE', 'FORM'].includes(e.tagName.toUpperCase()) && !e.closest('form.reply,'
               + ' form.assign, form.open-close, dialog')
              || [...e.attributes].some(a => a.name.startsWith('on') || a.name === 'style'
                 || /^\\s*(javascript|data|vbscript):/i.test(a.value)
                    && ['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name)))
            .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert made == []


def test_no_payload_runs_in_the_inbox_list_or_a_conversation(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock, live=True) as parley:
        s, app_id = parley.services, parley.app.app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), s.store, clock)
        set_password(SetPassword("ann@acme.io", PASSWORD), s.store, clock)
        sent = [p for p in payloads() if p.strip()]
        for i, payload in enumerate(sent):
            user = ping(s, app_id, {"user_id": f"u{i}", "name": payload}).user
            by_email = i % 2 == 1
            started = StartConversation(
                app_id,
                user.id.hex,
                payload,
                via="email" if by_email else "widget",
                subject=payload[:255] if by_email else None,
            )
            start_by_user(started, s.store, clock)
            clock.advance(seconds=1)
        victim = ping(s, app_id, {"user_id": "victim", "name": "Victim"}).user.id.hex
        talk = start_by_user(StartConversation(app_id, victim, "hello"), s.store, clock)
        writer, ann = {"type": "user", "id": victim}, {"type": "admin", "id": "1"}
        for payload in sent:
            cid = talk.conversation_id
            reply(Reply(app_id, cid, writer, "comment", body=payload), s.store, clock)
            reply(Reply(app_id, cid, ann, "note", body=payload), s.store, clock)
        s.runner.catch_up()

        page, errors = watched(browser)
        sign_in_page(page, parley.url, app_id)

        names: list[str] = []
        url: str | None = f"{parley.url}/apps/{app_id}/inbox?view=all"
        while url:
            page.goto(url)
            nothing_ran(page)
            names += page.locator("#inbox-list .name bdi").all_text_contents()
            older = page.get_by_role("link", name="Older conversations")
            url = f"{parley.url}{older.get_attribute('href')}" if older.count() else None
        assert sorted(n for n in names if n != "Victim") == sorted(as_read(p) for p in sent)

        # Emails' subjects head their conversations: a few of each kind, opened.
        page.goto(f"{parley.url}/apps/{app_id}/inbox?view=all")
        links = page.locator("#inbox-list a[data-conversation]")
        for href in [links.nth(i).get_attribute("href") for i in range(1, 9)]:
            page.goto(f"{parley.url}{href}")
            nothing_ran(page)
            heading = page.locator(".thread-live h1 bdi").text_content()
            assert heading in {as_read(p[:255]) for p in sent} | {as_read(p) for p in sent}

        page.goto(f"{parley.url}/apps/{app_id}/inbox/{talk.conversation_id}?view=all")
        nothing_ran(page)
        notes = page.locator(".thread .line.note").count()
        assert notes == len(sent)
        # A teammate's reply arrives live: the refreshed thread is checked again.
        reply(Reply(app_id, talk.conversation_id, ann, "comment", body=sent[0]), s.store, clock)
        page.locator(".thread .line.comment").nth(len(sent) + 1).wait_for()
        nothing_ran(page)
        page.context.close()
        assert errors == []
