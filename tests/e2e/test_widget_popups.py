"""The widget's popups in headless Chromium (seed: "Different Message Types"): where each type
shows and how big, one at a time, a reply from a conversation popup and the team's answer in
it, the page's hostile CSS kept out, and message HTML that escaped sanitising running nothing.
Runs on the harness of tests/e2e/test_widget_browser.py (its fixtures too)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route

from commands.apps import SetInboxStyle, set_inbox_style
from commands.auto_messages import ComposeAutoMessage, compose_auto_message
from commands.clock import ManualClock
from commands.conversations import Reply, load_conversation, reply
from commands.handling import handle
from domain.messages import Message
from tests.e2e.test_widget_browser import (
    RECORD_PINGS,
    TIMEOUT_MS,
    CustomerSite,
    Parley,
    Tab,
    browser,
    html,
    served_parley,
    settings_block,
    site,
    snippet,
)
from tests.e2e.test_widget_inbox import the_team

pytestmark = pytest.mark.browser
__all__ = ["browser", "site"]  # the module-wide fixtures, shared

HOSTILE = (
    "<style>div { color: #fff !important } button { display: none !important }"
    " * { font-family: serif !important; } iframe { display: none !important }"
    " body { transform: translateZ(0) }</style>"  # fixed boxes would follow the body
)
Rect = dict[str, float]


@pytest.fixture
def live(tmp_path: Path, clock: ManualClock) -> Iterator[Parley]:
    with served_parley(tmp_path, clock, live=True) as served:
        set_inbox_style(SetInboxStyle(served.app_id, "simple"), served.services.store, served.clock)
        yield served


def message(
    live: Parley, kind: str, body: str, path: str | None = None, markup: str = "markdown"
) -> Message:
    return compose_auto_message(
        ComposeAutoMessage(
            app_id=live.app_id,
            message_type=kind,
            admin_id="1",
            subject=None,
            body=body,
            markup=markup,
            style=None,
            custom_keys=set(),
            audience={"all": []},
            url_pattern=path,
        ),
        live.services.store,
        live.services.clock,
    )


def tab_at(browser: Browser, width: int, height: int) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_PINGS)
    tab = Tab(context.new_page())
    yield tab
    context.close()
    assert tab.errors == [], tab.errors


@pytest.fixture
def open_at(browser: Browser) -> Iterator[Callable[[int, int], Tab]]:
    opened: list[Iterator[Tab]] = []

    def new(width: int = 1280, height: int = 800) -> Tab:
        made = tab_at(browser, width, height)
        opened.append(made)
        return next(made)

    yield new
    for made in opened:
        next(made, None)


def page_for(live: Parley, site: CustomerSite, path: str, user_id: str, head: str = "") -> str:
    _, loader = snippet(live.app_id, live.url)
    settings = {"app_id": live.app_id, "user_id": user_id, "name": "Jo Lee"}
    site.pages[path] = html(head + settings_block(settings), loader, body="<h1>Acme</h1>")
    return site.url + path


def rect(tab: Tab, selector: str) -> Rect:
    found: Rect = tab.js(
        f"() => {{ const r = __pw({json.dumps(selector)}).getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,"
        " width: r.width, height: r.height}; }"
    )
    return found


def inside(box: Rect, width: int, height: int) -> bool:
    return (
        box["left"] >= 0 and box["top"] >= 0 and box["right"] <= width and box["bottom"] <= height
    )


def apart(a: Rect, b: Rect) -> bool:
    return (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or (b["bottom"] <= a["top"])
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 667)])
def test_each_type_has_its_place_and_size(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab], width: int, height: int
) -> None:
    boxes: dict[str, Rect] = {}
    for kind in ("conversation", "announcement", "notification", "inbox"):
        path = f"/app/{kind}-{width}"
        message(live, kind, f"Hello from the **{kind}**.", f"{site.url}{path}")
        tab = open_at(width, height)
        tab.open(page_for(live, site, path, f"{kind}-{width}"))
        assert tab.ping(1)["status"] == 200
        if kind == "inbox":  # no popup: the badge counts it (from the next ping on)
            live.services.runner.wait_for(live.head())
            tab.js("() => Intercom('update')")
            assert tab.ping(2)["body"]["unread"] == 1
            tab.page.wait_for_function("() => __pw('.parley-badge').textContent === '1'")
            assert tab.js("() => __pwAll('.parley-message').length") == 0
            continue
        popup = tab.page.locator(f".parley-popup-{kind}")
        popup.wait_for()
        assert popup.get_attribute("role") == "dialog"
        label = popup.get_attribute("aria-labelledby")
        assert tab.js(f"() => __pw('#{label}').textContent") == "The team"
        frame = tab.page.frame_locator(f".parley-popup-{kind} iframe")
        assert frame.locator("strong").inner_text() == kind
        boxes[kind] = rect(tab, f".parley-popup-{kind}")
        assert inside(boxes[kind], width, height), (kind, boxes[kind])
        assert apart(boxes[kind], rect(tab, ".parley-launcher")), kind  # never over the button
    note, talk, big = boxes["notification"], boxes["conversation"], boxes["announcement"]
    assert note["top"] <= 24 and note["right"] >= width - 24  # the top-right corner
    assert abs((talk["left"] + talk["right"]) / 2 - width / 2) <= 2  # centred
    assert big["width"] * big["height"] >= 2 * talk["width"] * talk["height"]
    if width < 480:  # full width on small screens
        assert talk["width"] == big["width"] == note["width"] == width
    else:
        assert abs((talk["top"] + talk["bottom"]) / 2 - height / 2) <= 2
        assert note["width"] <= 360 and talk["width"] <= 560


def test_one_popup_at_a_time_focus_inside_escape_closes_the_rest_wait(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab]
) -> None:
    first = message(live, "conversation", "First of two.")
    second = message(live, "notification", "Second of two.")
    tab = open_at(1280, 800)
    url = page_for(live, site, "/app/queue", "q1")
    tab.open(url)
    tab.page.locator(".parley-popup-conversation").wait_for()
    assert tab.js("() => __pwAll('.parley-message').length") == 1
    # Focus is in the dialog and stays there: Tab from its last control comes back round.
    focus_inside = (
        "() => __pw('.parley-message').contains("
        "document.querySelector('parley-widget').shadowRoot.activeElement)"
    )
    assert tab.js(focus_inside)
    active_class = (
        "() => document.querySelector('parley-widget').shadowRoot.activeElement.className"
    )
    tab.page.keyboard.press("Tab")  # in from the dialog: its first control, not its last
    assert "parley-close" in tab.js(active_class)
    for _ in range(6):
        tab.page.keyboard.press("Tab")
        assert tab.js(focus_inside)
    # Escape with a reply typed says so first; a second Escape discards it and closes.
    tab.page.get_by_label("Reply to").fill("half a thought")
    tab.page.keyboard.press("Escape")
    tab.page.get_by_text("Press Escape again to discard your reply.").wait_for()
    assert tab.js("() => __pwAll('.parley-popup-conversation').length") == 1
    tab.page.keyboard.press("Escape")
    tab.page.locator(".parley-popup-notification").wait_for()
    assert tab.js("() => __pwAll('.parley-message').length") == 1
    tab.page.wait_for_function("() => window.__parleyViews.length === 2")
    assert [v["status"] for v in tab.js("() => window.__parleyViews")] == [202, 202]
    shown = tab.js("() => __pw('.parley-message').dataset.messageId")
    assert shown == second.message_id and first.message_id != shown
    tab.open(url)  # seen both: nothing more on the next page view
    assert tab.ping(1)["body"]["messages"] == []


def test_a_popup_left_unseen_shows_on_the_next_page_view(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab]
) -> None:
    message(live, "conversation", "Shown first.")
    message(live, "announcement", "Waiting its turn.")
    tab = open_at(1280, 800)
    url = page_for(live, site, "/app/later", "q2")
    tab.open(url)
    tab.page.locator(".parley-popup-conversation").wait_for()
    tab.open(url)  # left before closing it: the announcement is offered again, once
    tab.page.locator(".parley-popup-announcement").wait_for()
    assert [m["message_type"] for m in tab.ping(1)["body"]["messages"]] == ["announcement"]


def test_a_reply_from_the_popup_joins_its_conversation_and_the_answer_shows_in_it(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab]
) -> None:
    the_team(live.services, live.app_id)
    message(live, "conversation", "Need a hand with exports?")
    tab = open_at(1280, 800)
    tab.open(page_for(live, site, "/app/reply", "r1"))
    popup = tab.page.locator(".parley-popup-conversation")
    popup.wait_for()
    cid = popup.get_attribute("data-conversation-id")
    assert cid
    tab.page.get_by_label("Reply to Ann Admin").fill("Yes please, where is the button?")
    tab.page.get_by_role("button", name="Send").click()
    thread = tab.page.frame_locator(".parley-popup-conversation .parley-thread")
    thread.locator(".mine", has_text="where is the button").wait_for()
    sent_from = "() => document.querySelector('parley-widget').shadowRoot.activeElement.className"
    assert "pw-send" in tab.js(sent_from)  # Send kept the keyboard focus in the dialog
    found = load_conversation(live.services.store, live.app_id, cid)
    assert [p["body"] for p in found.parts] == ["Yes please, where is the button?"]
    # As the inbox sends it: again on a conflict (the widget may be marking it read meanwhile).
    handle(
        reply,
        Reply(
            live.app_id, cid, {"type": "admin", "id": "1"}, "comment", body="Top right, *Export*."
        ),
        live.services.store,
        live.clock,
    )
    thread.locator(".part em", has_text="Export").wait_for()  # while it is open


def styles(tab: Tab) -> Any:
    return tab.js(
        """() => [".parley-popup-conversation", ".parley-close", ".parley-reply textarea",
        ".pw-send", ".parley-launcher", ".pw-frame"].map(s => {
          const e = __pw(s), c = getComputedStyle(e), r = e.getBoundingClientRect();
          return [s, c.display, c.color, c.fontFamily, c.visibility, Math.round(r.left),
                  Math.round(r.top), Math.round(r.width), Math.round(r.height)];
        })"""
    )


def test_hostile_page_css_does_not_reach_the_widget(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab]
) -> None:
    message(live, "conversation", "Styled as ever.")
    seen = []
    for user_id, head in (("plain", ""), ("hostile", HOSTILE)):
        tab = open_at(1280, 800)
        tab.open(page_for(live, site, f"/app/css-{user_id}", user_id, head))
        tab.page.locator(".parley-popup-conversation").wait_for()
        tab.page.frame_locator(".parley-popup-conversation iframe").locator("p").wait_for()
        seen.append(styles(tab))
        if head:
            assert (
                tab.js("() => getComputedStyle(document.querySelector('h1')).fontFamily") == "serif"
            )
    assert seen[0] == seen[1]


def test_message_html_that_escaped_sanitising_runs_nothing_in_the_page(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab]
) -> None:
    raw = (
        "<p>Hi</p><img src=x onerror='parent.__owned=1'><script>parent.__owned=2</script>"
        "<a id=js href='javascript:parent.__owned=3'>click me</a>"
        "<iframe srcdoc='<script>parent.parent.__owned=4</script>'></iframe>"
    )

    def unsanitised(route: Route) -> None:  # the widget is handed HTML no sanitiser saw
        answer = route.fetch().json()
        answer["messages"] = [
            {
                "type": "message",
                "id": "raw",
                "message_type": "conversation",
                "subject": None,
                "body": raw,
                "conversation_id": None,
                "from": {"type": "admin", "name": "Eve"},
            }
        ]
        route.fulfill(json=answer, headers={"Access-Control-Allow-Origin": "*"})

    tab = open_at(1280, 800)
    tab.page.route("**/widget/ping", unsanitised)
    tab.open(page_for(live, site, "/app/raw", "x1"))
    body = tab.page.frame_locator(".parley-popup-conversation iframe")
    body.locator("#js").click()
    body.locator("p").wait_for()
    tab.page.wait_for_timeout(300)  # let any handler that could fire, fire
    assert tab.js("() => window.__owned === undefined")


def test_a_video_in_a_message_plays_in_its_place_between_the_text(
    live: Parley, site: CustomerSite, open_at: Callable[[int, int], Tab]
) -> None:
    body = (
        "<p>Before the video.</p>"
        '<p><iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ" width="560" height="315">'
        "</iframe></p><p>After the video.</p>"
    )
    message(live, "announcement", body, markup="html")
    tab = open_at(1280, 800)
    tab.open(page_for(live, site, "/app/video", "v1"))
    tab.page.locator(".parley-popup-announcement").wait_for()
    pieces = tab.js(
        """() => [...__pw('.parley-popup-announcement .pw-scroll').children].map(e =>
          [e.className, e.getAttribute('sandbox') || '', e.getAttribute('src') || ''])"""
    )
    assert [p[0] for p in pieces] == ["pw-frame", "pw-video", "pw-frame"]
    text_sandbox, video_sandbox, video_src = pieces[0][1], pieces[1][1], pieces[1][2]
    assert "allow-scripts" not in text_sandbox  # the text still runs nothing
    assert "allow-scripts" in video_sandbox and video_src.startswith("https://www.youtube.com/")
    frames = tab.page.frame_locator(".parley-popup-announcement .pw-frame")
    frames.first.get_by_text("Before the video.").wait_for()
    frames.last.get_by_text("After the video.").wait_for()
    width = tab.js("() => __pw('.pw-video').getBoundingClientRect().width")
    height = tab.js("() => __pw('.pw-video').getBoundingClientRect().height")
    assert width > 500 and abs(width / height - 16 / 9) < 0.05
