"""Widget library benchmark: `.venv/bin/python -m bench.widget` (also run by `make bench`).

A real Parley (the tests' `served_parley`: the web app on a temporary SQLite database, one app,
served on a free port) and a customer's page on another port: the snippet as pasted
(web/static/snippet.html) booting a user, with one inline script right before the snippet's
loader that puts `performance.mark("parley:snippet")` on the timeline. Target (the issue):
widget.js small and fast, gzip under 20 KB (20,480 bytes) and from the script tag to the boot
ping sent under 50 ms on a local page.

1. Size: `GET /widget.js` from the running Parley, whatever its source files are: the bytes
   served without `Accept-Encoding`, those bytes gzipped at level 9 (as a server or CDN
   compressing it would), and what Parley sends when asked for `gzip, br`.
2. Boot: headless Chromium loads the page --loads times cold (a fresh browser context each
   time: empty cache, no open connection to Parley) and --loads times warm (one context, one
   load first to fill its cache; Parley is asked for widget.js again in none of the timed
   loads, counted on the server). From each load's performance timeline, in every frame
   (times made absolute with each frame's `performance.timeOrigin`, so a ping sent from an
   iframe would count too):
   - script tag -> widget.js fetched: from the mark to the `responseEnd` of widget.js's
     resource entry (the loader inserting the script element, the request, the response);
   - widget.js fetched -> boot ping sent: from that `responseEnd` to the `startTime` of the
     first `/widget/ping` resource entry, the moment the library called fetch (before any
     CORS preflight): parsing, compiling and running widget.js up to sending its ping;
   - script tag -> boot ping sent: the two together, against the 50 ms target.
   Shown beside them, not part of the target: widget.js run (its `responseEnd` to the script
   element's `load` event, which fires once it has run) and the ping's answer (its entry's
   `startTime` to `responseEnd`, preflight included on cold loads). A load counts once the
   page has seen a `parley:ping` event with status 200.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request, request_finished
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bench.common import Figure, percentile, print_summary, say, section
from bench.ingest.run import report_load
from commands.clock import ManualClock
from tests.e2e.test_widget_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RECORD_PINGS,
    CustomerSite,
    Parley,
    html,
    served_parley,
    snippet,
)

GZIP_TARGET = 20 * 1024
BOOT_TARGET_MS = 50.0
WIDGET, PING = "/widget.js", "/widget/ping"
TIMEOUT_MS = 10_000
MARK = '<script>performance.mark("parley:snippet")</script>'
# Before any page script: when the snippet's script element for widget.js has loaded (run).
WATCH_SCRIPT = """
document.addEventListener("load", function (event) {
  var src = event.target && event.target.src;
  if (src && new URL(src).pathname === "/widget.js" && window.__widgetRan === undefined) {
    window.__widgetRan = performance.now();
  }
}, true);
"""
TIMELINE = """() => ({
  origin: performance.timeOrigin,
  mark: performance.getEntriesByName("parley:snippet", "mark").map(e => e.startTime)[0],
  ran: window.__widgetRan,
  resources: performance.getEntriesByType("resource").map(e => (
    {path: new URL(e.name).pathname, start: e.startTime, end: e.responseEnd}
  )),
})"""


# --- size ------------------------------------------------------------------------------------


def fetch(url: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", WIDGET, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {WIDGET}: {response.status}")
        return body, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def sizes(parley: Parley) -> list[Figure]:
    section(f"1. GET {WIDGET} as Parley serves it (target: gzip < 20 KB)")
    raw, _ = fetch(parley.url, {"Accept-Encoding": "identity"})
    packed = len(gzip.compress(raw, compresslevel=9))
    sent, headers = fetch(parley.url, {"Accept-Encoding": "gzip, br"})
    encoding = headers.get("content-encoding", "none")
    say(f"raw:            {len(raw):>7,} bytes ({len(raw) / 1024:.1f} KB)")
    say(
        f"gzip -9:        {packed:>7,} bytes ({packed / 1024:.1f} KB) "
        f"= {packed / GZIP_TARGET:.2f} of the 20 KB target"
    )
    say(
        f"Parley sends:   {len(sent):>7,} bytes to `Accept-Encoding: gzip, br` "
        f"(Content-Encoding: {encoding}; Cache-Control: {headers.get('cache-control', 'none')})"
    )
    return [
        Figure("widget.js raw", len(raw), "B"),
        Figure("widget.js gzip -9", packed, "B", "< 20,480 B", packed < GZIP_TARGET),
        Figure("widget.js gzip -9 / 20 KB", packed / GZIP_TARGET, "%"),
        Figure(f"widget.js as served ({encoding})", len(sent), "B"),
    ]


# --- boot ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boot:
    """One page load's timeline, in ms (see the module's docstring)."""

    fetched: float  # script tag -> widget.js fetched
    to_ping: float  # widget.js fetched -> boot ping sent
    ran: float  # widget.js fetched -> its script's load event
    answered: float  # boot ping sent -> its response ended

    @property
    def total(self) -> float:
        return self.fetched + self.to_ping


class WidgetRequests:
    """How many times Parley answered `GET /widget.js` (to tell a cached load)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, sender: Flask, response: Response, **extra: Any) -> None:
        if request.path == WIDGET:
            self.count += 1


def timeline(page: Page) -> Boot | None:
    """The load's figures once every entry is on the timeline, else None."""
    mark = widget = ping = None
    ran = float("nan")
    for frame in page.frames:
        found = frame.evaluate(TIMELINE)
        at = found["origin"]
        if found["mark"] is not None:
            mark = at + found["mark"]
        if found.get("ran") is not None:
            ran = at + found["ran"]
        for entry in found["resources"]:
            absolute = (at + entry["start"], at + entry["end"])
            if entry["path"] == WIDGET and widget is None:
                widget = absolute
            elif entry["path"] == PING and (ping is None or absolute[0] < ping[0]):
                ping = absolute
    if mark is None or widget is None or ping is None:
        return None
    return Boot(widget[1] - mark, ping[0] - widget[1], ran - widget[1], ping[1] - ping[0])


def boot(page: Page, url: str) -> Boot:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_function("() => window.__parleyPings.length >= 1")
    outcome = page.evaluate("() => window.__parleyPings[0]")
    if errors or outcome.get("status") != 200:
        raise RuntimeError(f"the boot failed: ping {outcome}, page errors {errors}")
    deadline = time.monotonic() + 2.0
    while (found := timeline(page)) is None:  # entries are queued as their responses end
        if time.monotonic() > deadline:
            raise RuntimeError("the mark, widget.js or the ping is not on the timeline")
        time.sleep(0.01)
    return found


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_PINGS + WATCH_SCRIPT)
    return context


def cold(browser: Browser, url: str, loads: int) -> list[Boot]:
    found = []
    for _ in range(loads):
        context = new_context(browser)
        try:
            found.append(boot(context.new_page(), url))
        finally:
            context.close()
    return found


def warm(browser: Browser, url: str, loads: int, served: WidgetRequests) -> tuple[list[Boot], int]:
    """`loads` loads in one context after a first that fills its cache; and how many times
    Parley was asked for widget.js during them."""
    context = new_context(browser)
    try:
        page = context.new_page()
        boot(page, url)
        before = served.count
        found = [boot(page, url) for _ in range(loads)]
        return found, served.count - before
    finally:
        context.close()


def spread(samples: Sequence[float], target: float | None = None) -> str:
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    shown = f"median {p50:6.1f} ms   p95 {p95:6.1f} ms   max {max(samples):6.1f} ms"
    return shown + (f"   p95 = {p95 / target:.2f} of {target:.0f} ms" if target else "")


def report(label: str, boots: list[Boot]) -> list[Figure]:
    section(f"{label}: {len(boots)} loads")
    total = [b.total for b in boots]
    say(f"script tag -> widget.js fetched:   {spread([b.fetched for b in boots])}")
    say(f"widget.js fetched -> ping sent:    {spread([b.to_ping for b in boots])}")
    say(f"script tag -> boot ping sent:      {spread(total, BOOT_TARGET_MS)}")
    say(f"  (widget.js fetched -> run:       {spread([b.ran for b in boots])})")
    say(f"  (boot ping sent -> answered:     {spread([b.answered for b in boots])})")
    p95 = percentile(total, 0.95)
    return [
        Figure(
            f"{label}: tag -> widget.js fetched p95",
            percentile([b.fetched for b in boots], 0.95),
            "ms",
        ),
        Figure(
            f"{label}: widget.js fetched -> ping p95",
            percentile([b.to_ping for b in boots], 0.95),
            "ms",
        ),
        Figure(f"{label}: tag -> boot ping sent p50", percentile(total, 0.5), "ms"),
        Figure(f"{label}: tag -> boot ping sent p95", p95, "ms", "< 50 ms", p95 < BOOT_TARGET_MS),
        Figure(f"{label}: tag -> boot ping sent max", max(total), "ms"),
    ]


def boots(parley: Parley, site: CustomerSite, loads: int) -> list[Figure]:
    settings, loader = snippet(parley.app_id, parley.url)
    url = site.publish(html(settings, MARK, loader))
    served = WidgetRequests()
    with request_finished.connected_to(served), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            first = cold(browser, url, 1)[0]  # the browser's own first page, apart
            found = cold(browser, url, loads)
            cached, asked = warm(browser, url, loads, served)
        finally:
            browser.close()
    section(f"2. From the script tag to the boot ping sent (target: < {BOOT_TARGET_MS:.0f} ms)")
    say(f"the browser's first load, apart: {first.total:.1f} ms ({first.fetched:.1f} ms fetching)")
    say(f"Parley asked for widget.js in {asked} of the {loads} warm loads")
    figures = report("cold", found) + report("warm", cached)
    figures.append(Figure("warm: widget.js requests to Parley", asked, "", "= 0", asked == 0))
    return figures


@contextmanager
def servers() -> Iterator[tuple[Parley, CustomerSite]]:
    with (
        tempfile.TemporaryDirectory() as folder,
        served_parley(Path(folder), ManualClock()) as parley,
    ):
        site = CustomerSite()
        try:
            yield parley, site
        finally:
            site.served.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--loads", type=int, default=30, help="timed loads, cold and warm each")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    report_load("before")
    with servers() as (parley, site):
        say(f"Parley at {parley.url}, the customer's page at {site.url}")
        figures = sizes(parley) + boots(parley, site, args.loads)
    print_summary(figures)
    report_load("after (includes this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
