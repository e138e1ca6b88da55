"""The browser's side of an open dashboard, over real HTTP (bench/live.py): signing in with
the form's CSRF token, holding the live stream open and reading its server-sent events, and
fetching the list fragment htmx swaps in on each `inbox` event; and users replying through
the REST API meanwhile."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bench.ingest.server import Client

STREAM_TIMEOUT = 60.0  # the server sends a comment every 15 s


def _cookie(response: http.client.HTTPResponse) -> str:
    found = re.match(r"([^=;\s]+=[^;]*)", response.getheader("Set-Cookie") or "")
    if found is None:
        raise RuntimeError(f"no session cookie (status {response.status})")
    return found.group(1)


def sign_in(port: int, email: str, password: str) -> str:
    """Sign in through the form, as a browser does; the session's `Cookie` header value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/signin")
        response = conn.getresponse()
        page = response.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise RuntimeError("no sign-in form")
        form = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
        headers = {
            "Cookie": _cookie(response),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        conn.request("POST", "/signin", body=form, headers=headers)
        signed = conn.getresponse()
        signed.read()
        if signed.status != 302:
            raise RuntimeError(f"sign-in failed: {signed.status}")
        return _cookie(signed)
    finally:
        conn.close()


def basic(app_id: str, api_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{app_id}:{api_key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def user_reply(
    client: Client, auth: dict[str, str], conversation: str, user_id: str, words: str
) -> None:
    """A user's reply through the REST API; returns when it is committed (the response)."""
    body = {"type": "user", "message_type": "comment", "user_id": user_id, "body": words}
    status, answer = client.request(
        "POST", f"/conversations/{conversation}/reply", json.dumps(body).encode(), auth
    )
    if status != 200:
        raise RuntimeError(f"reply: {status} {answer[:300]!r}")


class Changes:
    """Users' replies (to `talks`: conversation and user_id) every `every` seconds in a thread,
    so that open streams wake."""

    def __init__(
        self, port: int, auth: dict[str, str], talks: list[tuple[str, str]], every: float
    ) -> None:
        self.client, self.auth, self.talks, self.every = Client(port), auth, talks, every
        self.made = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            conversation, user_id = self.talks[self.made % len(self.talks)]
            user_reply(self.client, self.auth, conversation, user_id, f"Any news? ({self.made})")
            self.made += 1

    def nudge(self, count: int, gap: float = 0.2) -> None:
        """A few replies now, from this thread."""
        client = Client(self.client.port)
        for n in range(count):
            conversation, user_id = self.talks[n % len(self.talks)]
            user_reply(client, self.auth, conversation, user_id, "Hello again")
            time.sleep(gap)
        client.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()


def row_shows(listing: str, conversation: str, words: str) -> bool:
    """The list's row for this conversation holds these words (its preview)."""
    start = listing.find(f"/inbox/{conversation}?")
    if start < 0:
        return False
    end = listing.find("</li>", start)
    return words in listing[start:end]


@dataclass
class Stream:
    """One open dashboard's `GET /apps/<app>/stream`, read in a thread of its own; like
    EventSource, it comes back after the `retry:` it was given when the server ends it."""

    port: int
    path: str
    cookie: str
    reconnect: bool = True
    on_inbox: Callable[[], object] | None = None  # what the page does then (fetch the list)
    inbox: list[tuple[float, list[str]]] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)  # each connection's `retry:` (ms)
    ended: int = 0  # connections the server ended
    error: str = ""
    last_id: str = ""

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="sse", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._connect_once()
            except (OSError, http.client.HTTPException) as problem:
                if self._stopping.is_set():
                    return
                self.error = self.error or repr(problem)
            with self._cond:
                self.ended += 1
                self._cond.notify_all()
            wait = (self.retries[-1] if self.retries else 1000) / 1000
            if not self.reconnect or self._stopping.wait(wait):
                return

    def _connect_once(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=STREAM_TIMEOUT)
        headers = {"Cookie": self.cookie, "Accept": "text/event-stream"}
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        try:
            conn.request("GET", self.path, headers=headers)
            self._sock = conn.sock
            response = conn.getresponse()
            if response.status != 200:
                raise http.client.HTTPException(f"stream: {response.status}")
            buffer = b""
            while chunk := response.read1(65536):
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._message(block.decode())
        finally:
            self._sock = None
            conn.close()

    def _message(self, block: str) -> None:
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        with self._cond:
            if "retry" in fields:
                self.retries.append(int(fields["retry"]))
            if fields.get("event") == "inbox":
                self.last_id = fields.get("id", self.last_id)
                self.inbox.append((time.perf_counter(), json.loads(fields["data"])))
            self._cond.notify_all()
        if fields.get("event") == "inbox" and self.on_inbox is not None:
            self.on_inbox()

    def wait_open(self, timeout: float = 10.0) -> int:
        """The first connection's `retry:` in ms (1000: admitted; 10000: over the cap)."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self.retries) or bool(self.error), timeout)
            return self.retries[0] if self.retries else 0

    def wait_ended(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.ended > 0, timeout)

    def wait_inbox(self, after: int, timeout: float, naming: str | None = None) -> int | None:
        """The index of the first `inbox` event past `after` (naming this conversation)."""

        def found() -> int | None:
            for n in range(after, len(self.inbox)):
                if naming is None or naming in self.inbox[n][1]:
                    return n
            return None

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout):
                return None
            return found()

    def close(self) -> None:
        self._stopping.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


@dataclass
class Dashboard:
    """One open dashboard: its stream, and the connection htmx fetches the list on."""

    port: int
    cookie: str
    stream_path: str
    list_path: str

    def __post_init__(self) -> None:
        self.stream = Stream(self.port, self.stream_path, self.cookie)
        self.page = Client(self.port)
        self.refetched = 0
        if self.stream.wait_open() != 1000:
            raise RuntimeError(f"the stream did not open: {self.stream.error}")

    def follow(
        self, rest: Client, auth: dict[str, str], talk: tuple[str, str], words: str
    ) -> tuple[float, float]:
        """Post a user's reply; ms from its response to (a) the stream's event naming its
        conversation, (b) the list fetched on that event (or a later one) showing it."""
        conversation, user_id = talk
        seen = len(self.stream.inbox)
        user_reply(rest, auth, conversation, user_id, words)
        committed = time.perf_counter()
        index = self.stream.wait_inbox(seen, 10.0, naming=conversation)
        if index is None:
            return float("inf"), float("inf")
        event = (self.stream.inbox[index][0] - committed) * 1000
        fetch = {"Cookie": self.cookie, "HX-Request": "true"}
        while index is not None:  # htmx fetches the list again on each `inbox` event
            status, body = self.page.request("GET", self.list_path, headers=fetch)
            if status == 200 and row_shows(body.decode(), conversation, words):
                return event, (time.perf_counter() - committed) * 1000
            self.refetched += 1
            index = self.stream.wait_inbox(index + 1, 10.0)
        return event, float("inf")

    def close(self) -> None:
        self.stream.close()
        self.page.close()
