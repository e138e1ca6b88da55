"""Live dashboard benchmark: `.venv/bin/python -m bench.live` (also run by `make bench`).

The real server (`parley serve`: gunicorn, PROJECTIONS=inline, as bench/ingest runs it) over
an inbox of 100,000 conversations (--conversations; COPYed as bench/inbox_page.py does) and
a few real ones written through the commands. Dashboards are browsers' connections over real
HTTP (bench/sse.py): signed in through the form, holding `GET /apps/<app>/stream` open.

1. From a user's reply to the row in an open dashboard: --replies times, spaced, a user's
   reply through the REST API; from the moment its response returned (committed) until
   (a) the stream's `inbox` event naming that conversation arrives, and (b) the list fragment
   the browser then fetches (htmx, `HX-Request`) shows the reply's words in its row (fetched
   again on each later `inbox` event if it did not yet). Target: p99 of (b) < 1 s.
2. Pings with 50 dashboards open (--streams): bench/ingest's returning-user pings, as fast as
   8 keep-alive clients go, in rounds without streams and with them in turn (ABAB…A, so the
   machine's other load and the database's growth fall on both), a user's reply every
   --change-every seconds throughout (so the streams wake): (2a) streams alone, (2b) each
   dashboard also fetching the list on each event, as htmx does. Target: throughput with them
   >= 90 % of without; all 50 admitted with WEB_THREADS=8 (streams get LIVE_STREAMS threads).
3. Over the cap: one worker with LIVE_STREAMS=20 and 50 streams: the 30 over it get
   `retry: 10000` and are closed (they come back 10 s later, as EventSource does); pings as
   in 2. Target: exactly the streams over the cap refused; pings >= 90 % of without.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bench.common import (
    Figure,
    free_port,
    fresh_schema,
    percentile,
    print_summary,
    say,
    section,
    server_url,
)
from bench.dashboard import PASSWORD
from bench.inbox import APP
from bench.inbox_page import API_KEY, populated, real_conversation
from bench.ingest.pings import PingRun, ping_bodies, report_errors, send_pings
from bench.ingest.run import report_load
from bench.ingest.server import Client, running_server, server_env
from bench.ingest.settings import Settings
from bench.sse import Changes, Dashboard, Stream, basic, sign_in

EMAIL = "bench@example.com"
STREAM = f"/apps/{APP}/stream"
LIST = f"/apps/{APP}/inbox?part=list&view=all&state=open"
ROW_P99_MS = 1000.0
PING_RATIO = 0.90
Talks = list[tuple[str, str]]  # (conversation id, the user_id of its user)


def prepare(url: str, size: int, talks: int) -> Talks:
    with populated(url, size) as services:
        found = [(real_conversation(services, f"live{k}", 4), f"live{k}") for k in range(talks)]
        services.runner.catch_up()
    return found


@contextmanager
def server(url: str, workers: int, threads: int, streams: int) -> Iterator[int]:
    port = free_port()
    settings = Settings(8, 0, 0, 0, 0, 0.0, 0.0, 0, workers, threads, 1)
    env = {**server_env(url, port, settings), "LIVE_STREAMS": str(streams)}
    say(f"parley serve: {workers} worker(s) x ({threads} + LIVE_STREAMS={streams}) threads")
    with running_server(env, port):
        yield port


def reply_to_row(port: int, talks: Talks, replies: int, spacing: float) -> list[Figure]:
    section(f"1. A user's reply to its row in an open dashboard ({replies} replies)")
    cookie, auth = sign_in(port, EMAIL, PASSWORD), basic(APP, API_KEY)
    dashboard, rest = Dashboard(port, cookie, STREAM, LIST), Client(port)
    try:
        timed = []
        for i in range(replies + 1):  # the first, just after the server started, apart
            words = f"Still failing after the update, try {i} ref q{i * 7919 % 10_007}"
            timed.append(dashboard.follow(rest, auth, talks[i % len(talks)], words))
            time.sleep(spacing)
    finally:
        dashboard.close()
        rest.close()
    (first_event, first_row), timed = timed[0], timed[1:]
    event_ms, row_ms = [e for e, _ in timed], [r for _, r in timed]
    missed = sum(1 for r in row_ms if r == float("inf"))
    say(f"first reply after the server started: event {first_event:.0f} ms, row {first_row:.0f} ms")
    say(f"(a) inbox event:  {spread(event_ms)}")
    say(f"(b) row updated:  {spread(row_ms)}")
    say(f"{missed} replies never shown; {dashboard.refetched} list fetches did not show it yet")
    p99 = percentile(row_ms, 0.99)
    return [
        Figure("reply -> inbox event p50", percentile(event_ms, 0.5), "ms"),
        Figure("reply -> inbox event p95", percentile(event_ms, 0.95), "ms"),
        Figure("reply -> inbox event p99", percentile(event_ms, 0.99), "ms"),
        Figure("reply -> row updated p50", percentile(row_ms, 0.5), "ms"),
        Figure("reply -> row updated p95", percentile(row_ms, 0.95), "ms"),
        Figure("reply -> row updated p99", p99, "ms", "< 1000 ms", p99 < ROW_P99_MS and not missed),
    ]


def spread(samples: Sequence[float]) -> str:
    p50, p95, p99 = (percentile(samples, f) for f in (0.5, 0.95, 0.99))
    return f"p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms   max {max(samples):.0f} ms"


@dataclass
class PingRounds:
    without: list[PingRun]
    with_streams: list[PingRun]

    @staticmethod
    def rate(runs: list[PingRun]) -> float:
        return sorted(r.rate for r in runs)[len(runs) // 2]

    @staticmethod
    def latency(runs: list[PingRun], fraction: float) -> float:
        return percentile([s.latency_ms for r in runs for s in r.ok], fraction)

    def ratio(self) -> float:
        return self.rate(self.with_streams) / self.rate(self.without)

    def describe(self, label: str) -> None:
        for name, runs in (("without streams", self.without), (label, self.with_streams)):
            for run in runs:
                report_errors(run)
            say(
                f"{name:<26} median {self.rate(runs):6,.0f} pings/s over {len(runs)} rounds, "
                f"latency p50 {self.latency(runs, 0.5):5.1f} ms  p95 "
                f"{self.latency(runs, 0.95):5.1f} ms  p99 {self.latency(runs, 0.99):5.1f} ms"
            )
        rates = ", ".join(
            f"{r.rate:,.0f}"
            for pair in zip(self.without, self.with_streams, strict=False)
            for r in pair
        )
        say(f"rounds in turn (pings/s, without first): {rates}, {self.without[-1].rate:,.0f}")
        say(f"ratio with / without: {self.ratio():.1%}")


@dataclass(frozen=True)
class Opened:
    """How one round's streams were answered."""

    admitted: int  # `retry: 1000`: listening
    refused: int  # `retry: 10000`: over the cap
    closed: int  # … of which the server closed at once


def open_streams(port: int, cookie: str, count: int, fetch: bool) -> list[Stream]:
    """`count` dashboards' streams; with `fetch`, each fetches the list on its events too."""

    def fetcher() -> Callable[[], object]:
        client, headers = Client(port), {"Cookie": cookie, "HX-Request": "true"}
        return lambda: client.request("GET", LIST, headers=headers)

    streams = [
        Stream(port, STREAM, cookie, on_inbox=fetcher() if fetch else None) for _ in range(count)
    ]
    for stream in streams:
        stream.wait_open()
    return streams


def pings_with_streams(
    port: int, talks: Talks, args: argparse.Namespace, fetch: bool = False
) -> tuple[PingRounds, list[Opened], int]:
    """Rounds without streams and with --streams open, alternating (ABAB…A: the machine's
    other load and the database's growth fall on both); the streams of each round are closed
    after it, and woken so that the server frees their slots before the next."""
    bodies = ping_bodies(APP, args.users)
    send_pings(port, bodies, args.users, args.threads)  # first visits: returning users after
    cookie = sign_in(port, EMAIL, PASSWORD)  # one sign-in: 30 a minute from one IP

    def one_round() -> PingRun:
        return send_pings(port, bodies, args.pings, args.threads)

    changes = Changes(port, basic(APP, API_KEY), talks, args.change_every)
    without, during, opened, woken = [one_round()], [], [], 0
    try:
        for _ in range(args.rounds):
            streams = open_streams(port, cookie, args.streams, fetch)
            during.append(one_round())
            woken += sum(len(s.inbox) for s in streams)
            refused = [s for s in streams if s.retries[:1] == [10_000]]
            closed = sum(1 for s in refused if s.wait_ended(1.0))
            admitted = sum(1 for s in streams if s.retries[:1] == [1000])
            opened.append(Opened(admitted, len(refused), closed))
            for stream in streams:
                stream.close()
            changes.nudge(3)  # closed streams end on their next writes
            without.append(one_round())
    finally:
        changes.stop()
    say(f"{changes.made} replies during the rounds; the streams got {woken:,} inbox events")
    return PingRounds(without, during), opened, woken


def many_streams(port: int, talks: Talks, args: argparse.Namespace, fetch: bool) -> list[Figure]:
    what = "dashboards fetching the list on each event" if fetch else "streams"
    section(
        f"2{'b' if fetch else 'a'}. Pings, {args.streams} {what}, WEB_THREADS={args.web_threads}"
    )
    found, opened, _ = pings_with_streams(port, talks, args, fetch)
    n = f"{args.streams} {'fetching' if fetch else 'streams'}"
    admitted = min(o.admitted for o in opened)
    say(f"streams admitted in each round: {[o.admitted for o in opened]} of {args.streams}")
    found.describe(f"with {args.streams} streams")
    ratio = found.ratio()
    return [
        Figure(f"{n}: pings/s without", found.rate(found.without), "/s"),
        Figure(f"{n}: pings/s with", found.rate(found.with_streams), "/s"),
        Figure(f"{n}: ping p50 without", found.latency(found.without, 0.5), "ms"),
        Figure(f"{n}: ping p50 with", found.latency(found.with_streams, 0.5), "ms"),
        Figure(f"{n}: ping p99 without", found.latency(found.without, 0.99), "ms"),
        Figure(f"{n}: ping p99 with", found.latency(found.with_streams, 0.99), "ms"),
        Figure(f"{n}: pings with / without", ratio, "%", ">= 90 %", ratio >= PING_RATIO),
        Figure(f"{n}: admitted", admitted, "", f"= {args.streams}", admitted == args.streams),
    ]


def over_the_cap(port: int, talks: Talks, args: argparse.Namespace) -> list[Figure]:
    cap, workers = args.cap, args.cap_workers
    section(f"3. {args.streams} streams over LIVE_STREAMS={cap} ({workers} worker(s))")
    found, opened, _ = pings_with_streams(port, talks, args)
    expected = max(0, args.streams - cap * workers)
    for o in opened:
        say(f"{o.admitted} admitted; {o.refused} told `retry: 10000`, {o.closed} closed at once")
    found.describe(f"with {args.streams} streams")
    ratio = found.ratio()
    right = all(o.refused == o.closed == expected for o in opened)
    return [
        Figure(
            f"over the cap: refused of {args.streams} for {cap * workers}",
            max(o.refused for o in opened),
            "",
            f"= {expected}",
            right,
        ),
        Figure("over the cap: pings/s with / without", ratio, "%", ">= 90 %", ratio >= PING_RATIO),
        Figure(
            "over the cap: ping p99 with streams", found.latency(found.with_streams, 0.99), "ms"
        ),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100_000, help="in the inbox")
    parser.add_argument("--talks", type=int, default=20, help="real conversations replied to")
    parser.add_argument("--replies", type=int, default=200, help="timed replies (1)")
    parser.add_argument("--spacing", type=float, default=0.2, help="seconds between them")
    parser.add_argument("--streams", type=int, default=50, help="open dashboards (2, 3)")
    parser.add_argument("--pings", type=int, default=2000, help="pings per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per condition")
    parser.add_argument("--users", type=int, default=1000, help="users the pings spread over")
    parser.add_argument("--threads", type=int, default=8, help="ping clients")
    parser.add_argument("--change-every", type=float, default=1.0, help="seconds")
    parser.add_argument("--no-fetch", action="store_true", help="skip 2b")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--live-streams", type=int, default=64, help="LIVE_STREAMS (1, 2)")
    parser.add_argument("--cap", type=int, default=20, help="LIVE_STREAMS in 3")
    parser.add_argument("--cap-workers", type=int, default=1, help="web workers in 3")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report_load("before")
    figures: list[Figure] = []
    with fresh_schema(server_url()) as url:
        talks = prepare(url, args.conversations, args.talks)
        with server(url, args.web_workers, args.web_threads, args.live_streams) as port:
            figures += reply_to_row(port, talks, args.replies, args.spacing)
            figures += many_streams(port, talks, args, fetch=False)
            if not args.no_fetch:
                figures += many_streams(port, talks, args, fetch=True)
        with server(url, args.cap_workers, args.web_threads, args.cap) as port:
            figures += over_the_cap(port, talks, args)
    print_summary(figures)
    report_load("after (includes this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
