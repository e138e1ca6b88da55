"""End to end: the classic snippet on a customer's page, in headless Chromium, pinging Parley.

Parley and the customer's site are two servers on two ports, so every ping is a real
cross-origin request. Results are read through the projections, as the dashboard sees them.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import Connection, true
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from commands.apps import CreateApp, CreatedApp, SetSecureMode, create_app, set_secure_mode
from commands.auto_messages import ComposeAutoMessage
from commands.clock import ManualClock
from domain.app import user_hash
from domain.identity import user_id_key
from domain.user import User
from queries.companies import find_company
from queries.messages import stats_of
from queries.users import find_user, search_users
from web.app import create_app as create_web_app
from web.bootstrap import Services, bootstrap, migrate
from web.config import Config

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
SNIPPET = Path(__file__).resolve().parents[2] / "web" / "static" / "snippet.html"

# Installed before any page script: keeps every ping outcome widget.js reports.
RECORD_PINGS = """
window.__parleyPings = [];
window.addEventListener("parley:ping", function (event) {
  window.__parleyPings.push(event.detail);
});
window.__parleyEvents = [];
window.addEventListener("parley:event", function (event) {
  window.__parleyEvents.push(event.detail);
});
window.__parleyViews = [];
window.addEventListener("parley:view", function (event) {
  window.__parleyViews.push(event.detail);
});
// The widget draws inside a shadow root on <parley-widget>: what it holds, for the tests.
window.__pw = function (selector) {
  var host = document.querySelector("parley-widget");
  return host ? host.shadowRoot.querySelector(selector) : null;
};
window.__pwAll = function (selector) {
  var host = document.querySelector("parley-widget");
  return host ? host.shadowRoot.querySelectorAll(selector) : [];
};
"""

Row = dict[str, Any]


# --- servers ---------------------------------------------------------------------------------


class Served:
    """A WSGI app on a free 127.0.0.1 port, in a background thread."""

    def __init__(self, wsgi_app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class CustomerSite:
    """The customer's own web site: HTML pages published under fresh paths."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.served = Served(self)
        self.url = self.served.url

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        html = self.pages.get(WsgiRequest(environ).path)
        if html is None:
            return WsgiResponse("not found", status=404)(environ, start_response)
        return WsgiResponse(html, mimetype="text/html")(environ, start_response)

    def publish(self, html: str) -> str:
        path = f"/app/{uuid.uuid4().hex[:8]}"
        self.pages[path] = html
        return self.url + path


@dataclass
class Parley:
    """A running Parley on a fresh SQLite database, with one app."""

    services: Services
    app: CreatedApp
    clock: ManualClock
    url: str

    @property
    def app_id(self) -> str:
        return self.app.app_id

    def _read(self) -> Connection:
        self.services.runner.catch_up()
        return self.services.engine.connect()

    def user(self, user_id: str) -> Row | None:
        with self._read() as conn:
            return find_user(conn, self.app_id, now=self.services.clock.now(), user_id=user_id)

    def users(self) -> list[Row]:
        with self._read() as conn:
            return search_users(
                conn, self.app_id, true(), self.services.clock.now(), per_page=500
            ).items

    def company(self, company_id: str) -> Row | None:
        with self._read() as conn:
            return find_company(conn, self.app_id, company_id=company_id)

    def head(self) -> int:
        return self.services.store.head()

    def originators_since(self, position: int) -> set[str]:
        """Aggregate ids (hex) of every event recorded after `position`."""
        found = self.services.store.recorder.select_notifications(start=position + 1, limit=1000)
        return {uuid.UUID(str(n.originator_id)).hex for n in found}


# --- the browser side ------------------------------------------------------------------------


@dataclass
class Tab:
    """A customer's page in the browser, with every ping it sent and every outcome it saw."""

    page: Page
    sent: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", self._on_request)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "warning":
            self.warnings.append(message.text)

    def _on_request(self, request: Request) -> None:
        if request.url.endswith("/widget/ping"):
            self.sent.append(json.loads(request.post_data or "null"))

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function("() => window.Intercom && window.Intercom.parley === true")

    def js(self, script: str) -> Any:
        return self.page.evaluate(script)

    def pings(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.page.evaluate("() => window.__parleyPings")
        return found

    def ping(self, number: int) -> dict[str, Any]:
        """Wait for the `number`th ping outcome (1-based) and return it."""
        self.page.wait_for_function("n => window.__parleyPings.length >= n", arg=number)
        return self.pings()[number - 1]


def snippet(app_id: str, base: str) -> tuple[str, str]:
    """snippet.html as a customer pastes it: the intercomSettings block and the loader block."""
    filled = Template(SNIPPET.read_text()).substitute(app_id=app_id, base=base)
    blocks = re.findall(r"<script>.*?</script>", filled, flags=re.DOTALL)
    assert len(blocks) == 2, f"snippet.html should hold two <script> blocks, found {len(blocks)}"
    return blocks[0], blocks[1]


def settings_block(settings: dict[str, Any]) -> str:
    literal = json.dumps(settings).replace("</", "<\\/")
    return f"<script>\n  window.intercomSettings = {literal};\n</script>"


def html(*blocks: str, body: str = "") -> str:
    scripts = "\n".join(blocks)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>Acme dashboard</title>"
        f"</head>\n<body>\n{body}\n{scripts}\n</body></html>\n"
    )


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `apt-get install chromium`")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except PlaywrightError as error:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {error}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site() -> Iterator[CustomerSite]:
    customer = CustomerSite()
    yield customer
    customer.served.close()


@contextmanager
def served_parley(tmp_path: Path, clock: ManualClock, *, live: bool = False) -> Iterator[Parley]:
    """Parley with one app, on SQLite, served on a free port; `live` keeps its projections
    current in the background, as a real server does."""
    config = Config(
        database_url=f"sqlite:///{tmp_path}/parley.db",
        secret_key="test",
        outbox_dir=f"{tmp_path}/outbox",
        sweep_seconds=0,
    )
    migrate(config)
    services = bootstrap(config, clock)
    if live:
        services.runner.start()
    created = create_app(CreateApp("Acme"), services.store, clock)
    web = create_web_app(services=services, follow=live)
    served = Served(web)
    try:
        yield Parley(services, created, clock, served.url)
    finally:
        served.close()
        for follower in web.extensions["parley_followers"]:
            follower.stop()
        web.extensions["parley_jobs"].stop()
        web.extensions["parley_live"].stop()
        services.close()


@pytest.fixture
def parley(tmp_path: Path, clock: ManualClock) -> Iterator[Parley]:
    with served_parley(tmp_path, clock) as served:
        yield served


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[[], Tab]]:
    """New tabs in a fresh browser context set to Paris time; no tab may raise a page error."""
    context = browser.new_context(timezone_id="Europe/Paris")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_PINGS)
    tabs: list[Tab] = []

    def new_tab() -> Tab:
        tab = Tab(context.new_page())
        tabs.append(tab)
        return tab

    yield new_tab
    context.close()
    for tab in tabs:
        assert tab.errors == [], f"JavaScript errors on the customer's page: {tab.errors}"


# --- scenarios -------------------------------------------------------------------------------


def test_a_page_with_intercom_settings_records_the_user_and_their_browser(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    _, loader = snippet(parley.app_id, parley.url)
    settings = {
        "app_id": parley.app_id,
        "user_id": "u-42",
        "email": "wesley@example.com",
        "name": "Westley",
        "created_at": 1350466020,
        "plan": "pro",
        "company": {"id": "acme-1", "name": "Acme Ltd", "monthly_spend": 49.5},
    }
    url = site.publish(html(settings_block(settings), loader))
    tab = open_tab()
    tab.open(url)

    outcome = tab.ping(1)
    assert tab.js("() => location.origin") != parley.url  # the ping really crossed origins
    assert outcome["status"] == 200, outcome
    assert tab.js("() => window.Intercom.last") == outcome
    user = parley.user("u-42")
    assert user is not None
    assert outcome["body"] == {"type": "ping", "user": {"id": user["id"]}, "messages": []}
    assert (user["email"], user["name"]) == ("wesley@example.com", "Westley")
    assert user["signed_up_at"] == 1350466020
    assert user["custom_attributes"] == {"plan": "pro"}
    assert (user["impressions"], user["session_count"]) == (1, 1)
    assert user["last_url"] == url
    assert user["last_seen_at"] == int(parley.clock.now().timestamp())
    assert user["timezone"] == "Europe/Paris"
    assert user["last_seen_ip"] == "127.0.0.1"
    browser_agent = tab.js("() => navigator.userAgent")
    assert user["user_agent"] == browser_agent
    assert "Chrome" in user["user_agent"]
    assert "HeadlessChrome" in user["user_agent"]
    assert [c["company_id"] for c in user["companies"]] == ["acme-1"]
    company = parley.company("acme-1")
    assert company is not None
    assert (company["name"], company["monthly_spend"], company["user_count"]) == (
        "Acme Ltd",
        49.5,
        1,
    )
    assert [u["user_id"] for u in parley.users()] == ["u-42"]
    assert len(tab.sent) == 1
    assert tab.warnings == []


def test_update_changes_attributes_and_logs_impressions_at_the_current_url(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    settings, loader = snippet(parley.app_id, parley.url)  # pasted verbatim: John Doe, 9876
    url = site.publish(html(settings, loader))
    tab = open_tab()
    tab.open(url)
    assert tab.ping(1)["status"] == 200
    john = parley.user("9876")
    assert john is not None
    assert (john["name"], john["email"], john["impressions"]) == (
        "John Doe",
        "john.doe@example.com",
        1,
    )
    assert john["signed_up_at"] == 1234567890

    parley.clock.advance(minutes=2)
    tab.js("() => history.pushState({}, '', '/pricing?tab=plans')")
    tab.js("() => Intercom('update', {name: 'Inigo Montoya'})")
    assert tab.ping(2)["status"] == 200
    inigo = parley.user("9876")
    assert inigo is not None
    assert inigo["name"] == "Inigo Montoya"
    assert inigo["email"] == "john.doe@example.com"
    assert inigo["impressions"] == 2
    assert inigo["last_url"] == f"{site.url}/pricing?tab=plans"
    assert inigo["last_seen_at"] == int(parley.clock.now().timestamp())

    parley.clock.advance(minutes=2)
    tab.js("() => history.pushState({}, '', '/team')")
    tab.js("() => Intercom('update')")
    assert tab.ping(3)["status"] == 200
    again = parley.user("9876")
    assert again is not None
    assert (again["name"], again["impressions"], again["session_count"]) == ("Inigo Montoya", 3, 1)
    assert again["last_url"] == f"{site.url}/team"
    assert again["last_seen_at"] == int(parley.clock.now().timestamp())
    assert len(parley.users()) == 1
    assert len(tab.sent) == 3


def test_a_single_page_app_boots_late_and_shutdown_stops_tracking(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    _, loader = snippet(parley.app_id, parley.url)
    login = {"app_id": parley.app_id, "user_id": "spa-1", "email": "ann@example.com"}
    body = (
        "<button id='login'>Log in</button>\n"
        f"<script>\n  var LOGIN = {json.dumps(login)};\n"
        "  document.getElementById('login').addEventListener('click', function () {\n"
        "    Intercom('boot', LOGIN);\n  });\n</script>"
    )
    url = site.publish(html(loader, body=body))
    head_before = parley.head()
    tab = open_tab()
    tab.open(url)

    # Loaded, not booted: a route change before login records nothing.
    tab.js("() => Intercom('update')")
    assert tab.js("() => window.Intercom.last === undefined")
    assert parley.users() == []
    assert parley.head() == head_before

    tab.page.click("#login")
    booted = tab.ping(1)
    assert booted["status"] == 200, booted
    assert len(tab.pings()) == 1
    assert [s["user"]["user_id"] for s in tab.sent] == ["spa-1"]  # nothing went out before boot
    ann = parley.user("spa-1")
    assert ann is not None
    assert (ann["email"], ann["impressions"], ann["session_count"]) == ("ann@example.com", 1, 1)
    assert ann["last_url"] == url
    head_booted = parley.head()

    # Log out; updates without a new boot must not be pinned on the old user.
    tab.js("() => Intercom('shutdown')")
    tab.js("() => Intercom('update', {name: 'Ann After Logout'})")
    tab.js("() => Intercom('update')")
    assert parley.head() == head_booted

    # The next login is a different user; by the time its ping is answered, any ping the
    # logged-out updates had sent would already have gone out (requests leave in order).
    tab.js(f"() => Intercom('boot', {json.dumps({'app_id': parley.app_id, 'user_id': 'spa-2'})})")
    assert tab.ping(2)["status"] == 200
    assert len(tab.pings()) == 2
    assert [s["user"]["user_id"] for s in tab.sent] == ["spa-1", "spa-2"]
    assert ann["id"] not in parley.originators_since(head_booted)
    after = parley.user("spa-1")
    assert after == ann
    assert sorted(u["user_id"] for u in parley.users()) == ["spa-1", "spa-2"]


def test_secure_mode_refuses_pages_without_the_right_user_hash(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    set_secure_mode(
        SetSecureMode(parley.app_id, True), parley.services.store, parley.services.clock
    )
    _, loader = snippet(parley.app_id, parley.url)
    who = {"app_id": parley.app_id, "user_id": "s-7", "email": "sec@example.com"}
    head_before = parley.head()

    for user_hash_given in (None, user_hash(parley.app.secret, "someone-else")):
        settings = dict(who) if user_hash_given is None else {**who, "user_hash": user_hash_given}
        tab = open_tab()
        tab.open(site.publish(html(settings_block(settings), loader)))
        refused = tab.ping(1)
        assert refused["status"] == 401, refused
        assert refused["body"]["errors"][0]["code"] == "invalid_user_hash"
        assert tab.js("() => window.Intercom.last.status") == 401
        assert any("ping refused (401)" in w for w in tab.warnings), tab.warnings
        assert parley.head() == head_before
        assert parley.users() == []

    signed = {**who, "user_hash": user_hash(parley.app.secret, "s-7")}
    tab = open_tab()
    tab.open(site.publish(html(settings_block(signed), loader)))
    accepted = tab.ping(1)
    assert accepted["status"] == 200, accepted
    user = parley.user("s-7")
    assert user is not None
    assert (user["email"], user["impressions"]) == ("sec@example.com", 1)
    assert "user_hash" not in user["custom_attributes"]


def test_a_bad_created_at_is_refused_with_the_field_named(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    _, loader = snippet(parley.app_id, parley.url)
    settings = {"app_id": parley.app_id, "user_id": "b-1", "created_at": "yesterday"}
    head_before = parley.head()
    tab = open_tab()
    tab.open(site.publish(html(settings_block(settings), loader)))

    refused = tab.ping(1)
    assert refused["status"] == 400, refused
    error = refused["body"]["errors"][0]
    assert error["code"] == "parameter_invalid"
    assert error["field"] == "created_at"
    assert "yesterday" in error["message"]
    assert tab.js("() => window.Intercom.last.status") == 400
    assert parley.head() == head_before
    assert parley.users() == []


def pasted_snippet_page(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> tuple[Tab, str]:
    """A page with snippet.html pasted as is (John Doe, 9876), booted; and its loader block."""
    settings, loader = snippet(parley.app_id, parley.url)
    tab = open_tab()
    tab.open(site.publish(html(settings, loader)))
    assert tab.ping(1)["status"] == 200
    return tab, loader


def test_after_logout_a_rerun_snippet_boots_the_next_user_with_one_impression(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    tab, loader = pasted_snippet_page(parley, site, open_tab)

    # A Turbolinks-style app: logout shuts Intercom down, the next page swaps in the next
    # user's intercomSettings and re-runs the pasted loader, which calls update(settings).
    tab.js("() => Intercom('shutdown')")
    next_user = {"app_id": parley.app_id, "user_id": "next-1", "name": "Fezzik"}
    tab.js(f"() => {{ window.intercomSettings = {json.dumps(next_user)}; }}")
    tab.page.add_script_tag(content=loader.removeprefix("<script>").removesuffix("</script>"))
    assert tab.ping(2)["status"] == 200
    tab.js("() => Intercom('update')")  # one more page view, answered after anything before it
    assert tab.ping(3)["status"] == 200

    assert [s["user"]["user_id"] for s in tab.sent] == ["9876", "next-1", "next-1"]
    fezzik = parley.user("next-1")
    assert fezzik is not None
    assert (fezzik["name"], fezzik["impressions"], fezzik["session_count"]) == ("Fezzik", 2, 1)
    john = parley.user("9876")
    assert john is not None
    assert (john["name"], john["impressions"]) == ("John Doe", 1)


def test_after_shutdown_stale_page_settings_do_not_bring_the_old_user_back(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    tab, _loader = pasted_snippet_page(parley, site, open_tab)
    head_booted = parley.head()

    # window.intercomSettings still names John, but he logged out.
    tab.js("() => Intercom('shutdown')")
    tab.js("() => Intercom('update', {name: 'Renamed After Logout'})")
    tab.js("() => Intercom('update')")
    tab.js(f"() => Intercom('boot', {json.dumps({'app_id': parley.app_id, 'user_id': 'n-2'})})")
    assert tab.ping(2)["status"] == 200

    assert [s["user"]["user_id"] for s in tab.sent] == ["9876", "n-2"]
    john = parley.user("9876")
    assert john is not None
    assert (john["name"], john["impressions"]) == ("John Doe", 1)
    assert john["id"] not in parley.originators_since(head_booted)


def test_track_event_queued_before_the_library_loads_lands_on_the_booted_user(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    settings, loader = snippet(parley.app_id, parley.url)
    tracking = "<script>Intercom('trackEvent', 'opened-editor', {draft: true});</script>"
    tab = open_tab()
    tab.open(site.publish(html(settings, loader, tracking)))
    assert tab.ping(1)["status"] == 200
    tab.page.wait_for_function("() => window.__parleyEvents.length >= 1")
    outcome = tab.js("() => window.__parleyEvents[0]")
    assert outcome["status"] == 202, outcome
    user: User = parley.services.store.repository.get(user_id_key(parley.app_id, "9876"))
    assert user.events["opened-editor"]["count"] == 1


def test_an_auto_message_appears_on_the_page_where_the_user_first_matches(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    from commands.auto_messages import compose_auto_message

    message = compose_auto_message(
        ComposeAutoMessage(
            app_id=parley.app_id,
            message_type="announcement",
            admin_id="1",
            subject="New: PDF export",
            body='Hi {{ first_name | fallback:"there" }}, try <strong>PDF export</strong>.'
            "<script>window.__owned = true</script>",
            markup="html",
            style=None,
            custom_keys={"plan"},
            audience={"attribute": "custom.plan", "operator": "is", "value": "pro"},
        ),
        parley.services.store,
        parley.services.clock,
    )
    _, loader = snippet(parley.app_id, parley.url)
    settings = {"app_id": parley.app_id, "user_id": "m1", "name": "Mia Wong", "plan": "pro"}
    tab = open_tab()
    tab.open(site.publish(html(settings_block(settings), loader)))
    assert tab.ping(1)["status"] == 200
    tab.page.wait_for_selector(".parley-message", timeout=TIMEOUT_MS)
    shown = tab.page.locator(".parley-message").inner_text()
    shown += tab.page.frame_locator(".parley-message iframe").locator("body").inner_text()
    assert "New: PDF export" in shown and "Hi Mia, try PDF export." in shown
    assert tab.js("() => window.__owned === undefined")  # the script never ran
    tab.page.wait_for_function("() => window.__parleyViews.length >= 1")
    assert tab.js("() => window.__parleyViews[0].status") == 202
    topics = [n.topic for n in parley.services.store.recorder.select_notifications(1, 1000)]
    assert topics.count("domain.user:User.MessageViewed") == 1
    # The next page view shows nothing: once per user.
    tab.js("() => Intercom('update')")
    assert tab.ping(2)["body"]["messages"] == []
    assert message.message_id in tab.js("() => __pw('.parley-message').dataset.messageId")


def test_a_link_followed_in_a_message_is_counted_once_per_user(
    parley: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    from commands.auto_messages import compose_auto_message

    landing = site.publish(html(body="<h1>The guide</h1>"))
    message = compose_auto_message(
        ComposeAutoMessage(
            app_id=parley.app_id,
            message_type="notification",
            admin_id="1",
            subject=None,
            body=f'Read <a href="{landing}">the guide</a>.',
            markup="html",
            style=None,
            custom_keys=set(),
            audience={"all": []},
        ),
        parley.services.store,
        parley.services.clock,
    )
    _, loader = snippet(parley.app_id, parley.url)
    settings = {"app_id": parley.app_id, "user_id": "c1"}
    tab = open_tab()
    tab.open(site.publish(html(settings_block(settings), loader)))
    link = tab.page.frame_locator(".parley-message iframe").locator("a")
    with tab.page.context.expect_page() as opened:  # in a new tab, the customer's page stays
        link.click()
    opened.value.wait_for_load_state()
    assert opened.value.locator("h1").inner_text() == "The guide"
    key = user_id_key(parley.app_id, "c1")
    deadline = time.monotonic() + 10
    clicked: list[str] = []
    while time.monotonic() < deadline and not clicked:
        user = parley.services.store.get_as(User, key)
        clicked = user.messages_clicked if user is not None else []
        time.sleep(0.05)
    assert clicked == [message.message_id]
    parley.services.runner.catch_up()
    with parley.services.engine.connect() as conn:
        assert stats_of(conn, [message.message_id])[message.message_id]["clicked"] == 1
