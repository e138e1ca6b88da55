"""4. Projection lag while pinging at a fixed rate, as GET /health reports it."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

from bench.common import percentile, say, section
from bench.ingest.pings import PingRun, ping_bodies, report_errors, send_pings
from bench.ingest.server import Client, CpuMeter
from bench.ingest.settings import LAG_CLIENTS, Settings

# -- 4. projection lag -------------------------------------------------------------------


@dataclass(frozen=True)
class Poll:
    started: float
    finished: float
    head: int
    positions: dict[str, int]

    @property
    def slowest(self) -> int:
        return min(self.positions.values(), default=self.head)


class HealthPoller:
    """Reads GET /health every `interval` seconds on its own connection."""

    def __init__(self, port: int, interval: float = 0.02) -> None:
        self.port = port
        self.interval = interval
        self.polls: list[Poll] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="health-poller", daemon=True)

    def run(self) -> None:
        client = Client(self.port)
        try:
            while not self.stopping.is_set():
                started = time.perf_counter()
                health = client.get_json("/health")
                finished = time.perf_counter()
                positions = {k: v["position"] for k, v in health["projections"].items()}
                self.polls.append(Poll(started, finished, health["event_store"]["head"], positions))
                self.stopping.wait(max(0.0, self.interval - (finished - started)))
        finally:
            client.close()

    def caught_up_after(self, moment: float) -> bool:
        """Has a poll begun after `moment` seen every projection at that poll's head?"""
        return any(p.started >= moment and p.slowest >= p.head for p in reversed(self.polls))

    def __enter__(self) -> HealthPoller:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self.thread.join()


def projection_lags(
    acks: Sequence[float], polls: Sequence[Poll], position: Callable[[Poll], int]
) -> tuple[list[float], int]:
    """For each ack: ms from the ack until `position` reached the head read by the first
    poll begun after it (the ping's own log position or later). Also: how many never did."""
    starts = [p.started for p in polls]
    lags: list[float] = []
    unresolved = 0
    for ack in acks:
        first = bisect_left(starts, ack)
        if first >= len(polls):
            unresolved += 1
            continue
        head = polls[first].head
        reached = next(
            (p.finished for p in islice(polls, first, None) if position(p) >= head), None
        )
        if reached is None:
            unresolved += 1
        else:
            lags.append((reached - ack) * 1000)
    return lags, unresolved


@dataclass(frozen=True)
class LagResult:
    rate: float
    p50: float
    p99: float
    unresolved: int


def lag_result(rate: float, lags: Sequence[float], unresolved: int) -> LagResult:
    p99 = percentile(lags, 0.99) if not unresolved else float("inf")
    return LagResult(rate, percentile(lags, 0.50), p99, unresolved)


def position_of(name: str) -> Callable[[Poll], int]:
    return lambda poll: poll.positions[name]


def report_lags(run: PingRun, polls: Sequence[Poll]) -> LagResult:
    """Lag of every projection together (the summary figure), then of each one alone."""
    acks = sorted(s.acked for s in run.ok)
    lags, unresolved = projection_lags(acks, polls, lambda p: p.slowest)
    result = lag_result(run.rate, lags, unresolved)
    say(f"projection lag after ack: p50 {result.p50:.0f} ms, p99 {result.p99:.0f} ms")
    for name in polls[-1].positions if polls else []:
        alone = lag_result(run.rate, *projection_lags(acks, polls, position_of(name)))
        say(f"  {name} alone: p50 {alone.p50:.0f} ms, p99 {alone.p99:.0f} ms")
    if unresolved:
        say(f"!! {unresolved} pings not projected within 15 s of the last ack")
    return result


def projection_lag(port: int, app_id: str, settings: Settings, server_pid: int) -> LagResult:
    section(f"4. Projection lag at {settings.lag_rate:.0f} pings/s for {settings.lag_seconds} s")
    count = round(settings.lag_rate * settings.lag_seconds)
    bodies = ping_bodies(app_id, settings.users, offset=settings.pings)
    with HealthPoller(port) as poller:
        meter = CpuMeter(server_pid)
        # An open-loop load: enough clients that the pace, not the round trip, sets the rate.
        clients = max(settings.threads, LAG_CLIENTS)
        run = send_pings(port, bodies, count, clients, rate=settings.lag_rate)
        meter.report(len(run.samples), run.seconds, " (includes the /health polls)")
        last_ack = max(s.acked for s in run.samples)
        deadline = time.perf_counter() + 15
        while not poller.caught_up_after(last_ack) and time.perf_counter() < deadline:
            time.sleep(0.05)
    report_errors(run)
    say(
        f"{len(run.ok)} pings at {run.rate:,.1f} pings/s achieved "
        f"(ping latency p50 {run.latency(0.5):.1f} ms, p99 {run.latency(0.99):.1f} ms); "
        f"{len(poller.polls)} /health polls, one every {poller.interval * 1000:.0f} ms"
    )
    return report_lags(run, poller.polls)
