"""3. Snippet pings through the real server over keep-alive HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.common import percentile, say, section
from bench.ingest.baselines import Ticket, run_threads
from bench.ingest.server import Client, CpuMeter
from bench.ingest.settings import Settings
from bench.ingest.work import bench_ping

# -- 3. pings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    sent: float
    acked: float
    status: int

    @property
    def latency_ms(self) -> float:
        return (self.acked - self.sent) * 1000


@dataclass
class PingRun:
    samples: list[Sample] = field(default_factory=list)
    first_error: str = ""

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]

    @property
    def seconds(self) -> float:
        if not self.samples:
            return float("nan")
        return max(s.acked for s in self.samples) - min(s.sent for s in self.samples)

    @property
    def rate(self) -> float:
        return len(self.ok) / self.seconds

    def latency(self, fraction: float) -> float:
        return percentile([s.latency_ms for s in self.ok], fraction)


def send_pings(
    port: int,
    bodies: Callable[[int], bytes],
    count: int,
    threads: int,
    rate: float | None = None,
) -> PingRun:
    """POST `count` pings from `threads` keep-alive clients, as fast as possible or paced."""
    run = PingRun()
    tickets = Ticket(count)
    lock = threading.Lock()
    start = time.perf_counter() + 0.05

    def work(_index: int) -> None:
        client = Client(port)
        mine: list[Sample] = []
        try:
            while (i := tickets.take()) is not None:
                if rate is not None:
                    time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                sent = time.perf_counter()
                status, body = client.request("POST", "/widget/ping", bodies(i))
                mine.append(Sample(sent, time.perf_counter(), status))
                if status != 200 and not run.first_error:
                    run.first_error = f"{status} {body[:300]!r}"
        finally:
            client.close()
            with lock:
                run.samples.extend(mine)

    run_threads(threads, work)
    return run


def ping_bodies(
    app_id: str, users: int, offset: int = 0, prefix: str = "u"
) -> Callable[[int], bytes]:
    return lambda i: json.dumps(bench_ping(app_id, (i + offset) % users, prefix)).encode()


def report_errors(run: PingRun) -> None:
    failed = len(run.samples) - len(run.ok)
    if failed:
        say(f"!! {failed} pings failed; first: {run.first_error}")


def ping_throughput(
    port: int, app_id: str, settings: Settings, server_pid: int
) -> tuple[PingRun, PingRun]:
    """First visits (a new user each: 4 events, identity lookups) and returning users'
    page views (one event each), measured apart: real traffic is mostly the second kind.
    Returning users are measured in `rounds` rounds; the median round is reported."""
    section("3. Pings through the real server (gunicorn, keep-alive HTTP clients)")
    send_pings(port, ping_bodies(app_id, 40, prefix="warm"), 80, settings.threads)
    bodies = ping_bodies(app_id, settings.users)
    meter = CpuMeter(server_pid)
    first = send_pings(port, bodies, settings.users, settings.threads)
    describe("first visits", first, settings)
    meter.report(len(first.samples), first.seconds)
    meter = CpuMeter(server_pid)
    per_round = max(1, settings.pings // settings.rounds)
    rounds = [send_pings(port, bodies, per_round, settings.threads) for _ in range(settings.rounds)]
    for n, run in enumerate(rounds, 1):
        describe(f"returning users, round {n}", run, settings)
    meter.report(sum(len(r.samples) for r in rounds), sum(r.seconds for r in rounds))
    median = sorted(rounds, key=lambda r: r.rate)[len(rounds) // 2]
    say(f"returning users: median round {median.rate:,.0f} pings/s")
    return first, median


def describe(label: str, run: PingRun, settings: Settings) -> None:
    report_errors(run)
    say(
        f"{label}: {len(run.ok)} pings from {settings.threads} clients over "
        f"{settings.users} users in {run.seconds:.2f} s: {run.rate:,.0f} pings/s, "
        f"latency p50 {run.latency(0.50):.1f} ms, p99 {run.latency(0.99):.1f} ms"
    )
