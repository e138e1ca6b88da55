"""The whole run: each measurement in turn, then the summary of figures and targets."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from sqlalchemy.engine import make_url

from bench.common import (
    Figure,
    execute_once,
    free_port,
    fresh_schema,
    print_summary,
    say,
    server_url,
)
from bench.ingest.baselines import baseline_core, baseline_eventsourcing
from bench.ingest.lag import LagResult, projection_lag
from bench.ingest.pings import PingRun, ping_throughput
from bench.ingest.rebuild import RebuildResult, rebuild_speed
from bench.ingest.server import create_bench_app, running_server, server_env
from bench.ingest.settings import (
    LAG_P99_TARGET_MS,
    LAG_RATE_TOLERANCE,
    PING_RATIO_TARGET,
    REBUILD_TARGET,
    Settings,
    parse_args,
)
from bench.ingest.work import database_work_per_ping

# -- the whole run -----------------------------------------------------------------------


def ping_phases(url: str, settings: Settings) -> tuple[str, tuple[PingRun, PingRun], LagResult]:
    port = free_port()
    env = server_env(url, port, settings)
    app_id = create_bench_app(env)
    database_work_per_ping(url, app_id)
    say()
    say(
        f"starting parley serve on port {port}: {settings.web_workers} workers x "
        f"{settings.web_threads} threads, PROJECTIONS=inline"
    )
    with running_server(env, port) as server:
        pings = ping_throughput(port, app_id, settings, server.pid)
        lag = projection_lag(port, app_id, settings, server.pid)
    return app_id, pings, lag


def figures(
    bare: tuple[float, float],
    core: tuple[float, float],
    ping_runs: tuple[PingRun, PingRun],
    lag: LagResult,
    rebuilds: Sequence[RebuildResult],
    settings: Settings,
) -> list[Figure]:
    t = settings.threads
    first, pings = ping_runs
    ratio = pings.rate / bare[1]
    first_ratio = first.rate / bare[1]
    slowest = min(rebuilds, key=lambda r: r.rate)
    rate_floor = settings.lag_rate * LAG_RATE_TOLERANCE
    return [
        Figure("A: bare eventsourcing saves/s, 1 thread", bare[0], "/s"),
        Figure(f"A: bare eventsourcing saves/s, {t} threads", bare[1], "/s"),
        Figure("B: Core INSERT+COMMIT rows/s, 1 thread", core[0], "/s"),
        Figure(f"B: Core INSERT+COMMIT rows/s, {t} threads", core[1], "/s"),
        Figure(f"first-visit pings/s, {t} clients", first.rate, "/s"),
        Figure(
            f"first-visit pings/s / bare saves/s ({t} threads)",
            first_ratio,
            "%",
            f">= {PING_RATIO_TARGET:.0%}",
            first_ratio >= PING_RATIO_TARGET,
        ),
        Figure(f"returning-user pings/s, {t} clients", pings.rate, "/s"),
        Figure("returning ping latency p50", pings.latency(0.50), "ms"),
        Figure("returning ping latency p99", pings.latency(0.99), "ms"),
        Figure(
            f"returning pings/s / bare saves/s ({t} threads)",
            ratio,
            "%",
            f">= {PING_RATIO_TARGET:.0%}",
            ratio >= PING_RATIO_TARGET,
        ),
        Figure("returning pings/s / bare saves/s (1 thread)", pings.rate / bare[0], "%"),
        Figure(
            "lag test: achieved pings/s",
            lag.rate,
            "/s",
            f">= {rate_floor:.0f}",
            lag.rate >= rate_floor,
        ),
        Figure("projection lag p50", lag.p50, "ms"),
        Figure(
            "projection lag p99",
            lag.p99,
            "ms",
            f"< {LAG_P99_TARGET_MS:.0f} ms",
            lag.p99 < LAG_P99_TARGET_MS,
        ),
        Figure(
            f"rebuild events/s (slowest: {slowest.name})",
            slowest.rate,
            "/s",
            f">= {REBUILD_TARGET:,.0f}",
            slowest.rate >= REBUILD_TARGET,
        ),
    ]


def run(url: str, settings: Settings) -> list[Figure]:
    bare = baseline_eventsourcing(url, settings)
    core = baseline_core(url, settings)
    app_id, pings, lag = ping_phases(url, settings)
    rebuilds = rebuild_speed(url, app_id, settings)
    return figures(bare, core, pings, lag, rebuilds, settings)


def report_load(when: str) -> None:
    """Other work on the machine skews every figure: say how busy it was."""
    if not hasattr(os, "getloadavg"):
        return
    one, five, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    busy = when == "before" and one > cores / 2
    note = "  !! the machine is busy: figures will be low and noisy" if busy else ""
    say(f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {cores} cores{note}")


def check_reachable(server: str) -> None:
    try:
        execute_once(server, "SELECT 1")
    except Exception as error:
        raise SystemExit(f"PostgreSQL at {server} is unreachable: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    server = server_url()
    check_reachable(server)
    say(f"Parley ingest benchmark on {make_url(server).render_as_string(hide_password=True)}")
    say(f"settings: {settings}")
    report_load("before")
    started = time.perf_counter()
    with fresh_schema(server) as url:
        results = run(url, settings)
    print_summary(results)
    say()
    report_load("after (includes this run)")
    say(f"total time {time.perf_counter() - started:.0f} s")
    return 0
