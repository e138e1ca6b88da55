"""`/apps/<app_id>/stream`: the app's live changes as server-sent events, one stream per open
dashboard (htmx's SSE extension listens in page.html). Each message says which conversations
changed: `conversation-<id>` for each, then `inbox` with their ids and, as its `id:`, the log
position they were projected up to; a reconnect sends it back as `Last-Event-ID` and resumes
there, so nothing in between is missed. Streams are capped and their threads budgeted
(web/live.py); each ends after a while and the browser reconnects, so restarts and removed
teammates are noticed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Response, request
from flask.typing import ResponseReturnValue

from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.inbox import feed
from web.live import Changes, Feed

HEARTBEAT = 15.0  # seconds between comments that keep proxies open and find gone browsers
LIFETIME = 300.0  # seconds before a stream ends and the browser comes back for a fresh one
RETRY_MS = 1000  # how soon the browser reconnects after a stream ends
BUSY_RETRY_MS = 10_000  # … and when this process has as many streams as it takes
# At most one message per stream this often: a busy app's changes are told together, so an
# open dashboard refreshes its list twice a second at most however fast they come.
GAP = 0.5


def _after(given: str | None) -> int | None:
    if given is None or not given.strip().isdigit():
        return None
    return int(given.strip())


def message(changes: Changes) -> str:
    """One batch of changes: each conversation's own event, then the list's with the id."""
    ids = sorted(changes.conversations)
    each = "".join(f"event: conversation-{c}\ndata: {c}\n\n" for c in ids)
    return each + f"id: {changes.position}\nevent: inbox\ndata: {json.dumps(ids)}\n\n"


def events(live: Feed, app_id: str, after: int) -> Iterator[str]:
    with live.listening() as admitted:
        if not admitted:  # over the cap: what is new now, then come back later
            yield f"retry: {BUSY_RETRY_MS}\n\n"
            if live.closed:
                return
            found = live.since(app_id, after)
            if found.conversations:
                yield message(found)
            return
        yield f"retry: {RETRY_MS}\n\n"
        ends = time.monotonic() + LIFETIME
        while (left := ends - time.monotonic()) > 0 and not live.closed:
            changed = live.wait(app_id, after, min(HEARTBEAT, left))
            if changed is None:
                yield ":\n\n"
                continue
            if changed.conversations:
                yield message(changed)
                live.rest(GAP)
            after = changed.position


@dashboard.get("/apps/<app_id>/stream")
def stream(app_id: str) -> ResponseReturnValue:
    teammate_of(app_id)  # another app's stream is a 404 like its pages
    live = feed()
    after = _after(request.headers.get("Last-Event-ID"))
    if after is None:
        after = _after(request.args.get("after"))
    if after is None:
        after = live.position()
    headers = {"X-Accel-Buffering": "no", "Cache-Control": "no-store"}
    return Response(events(live, app_id, after), mimetype="text/event-stream", headers=headers)
