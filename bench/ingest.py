"""Ingest benchmark on PostgreSQL: `make bench` (or `.venv/bin/python -m bench.ingest --quick`).

Measures, in a fresh schema that is dropped at the end:

1. Baseline A: a bare eventsourcing save loop (one new event per save).
2. Baseline B: single-row INSERT + COMMIT transactions with SQLAlchemy Core.
3. Snippet pings through the real server (`parley serve`, gunicorn) over keep-alive HTTP.
4. Projection lag while pinging at a fixed rate, as GET /health reports it.
5. Projection rebuild speed, in process, over a log of at least --rebuild-events events.

Not a test: pytest never collects it (it lives outside tests/ and has no test_ functions).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Identity,
    MetaData,
    Table,
    Text,
    create_engine,
)
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url

from bench.common import (
    Figure,
    execute_once,
    free_port,
    fresh_schema,
    percentile,
    print_summary,
    say,
    section,
    server_url,
)
from commands.apps import load_app
from commands.clock import ManualClock
from commands.recorders import StoreFactory
from commands.store import Parley
from commands.users import Ping, UserInput, record_ping
from domain.identity import email_key
from domain.user import Alias, User
from projections.db import make_engine
from projections.rebuild import rebuild
from web.bootstrap import all_projections

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
PING_HEADERS = {"Content-Type": "text/plain;charset=UTF-8"}
PAGE = "https://app.example.com/page"

# Target ratios and limits the summary checks.
PING_RATIO_TARGET = 0.50
LAG_P99_TARGET_MS = 1000.0
LAG_RATE_TOLERANCE = 0.95
REBUILD_TARGET = 20_000.0
LAG_CLIENTS = 32


# -- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    threads: int
    saves: int
    rows: int
    pings: int
    users: int
    lag_rate: float
    lag_seconds: float
    rebuild_events: int
    web_workers: int
    web_threads: int
    rounds: int


FULL = {
    "saves": 3000,
    "rows": 3000,
    "pings": 6000,
    "users": 2000,
    "lag_seconds": 10.0,
    "rebuild_events": 50_000,
}
QUICK = {
    "saves": 450,
    "rows": 450,
    "pings": 800,
    "users": 400,
    "lag_seconds": 4.0,
    "rebuild_events": 12_000,
}


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--threads", type=int, default=8, help="client and baseline threads")
    parser.add_argument("--saves", type=int, help="saves per bare-loop measurement")
    parser.add_argument("--rows", type=int, help="INSERT transactions per Core measurement")
    parser.add_argument("--pings", type=int, help="pings in the throughput measurement")
    parser.add_argument("--users", type=int, help="distinct users the pings spread over")
    parser.add_argument("--lag-rate", type=float, default=200.0, help="pings/s in the lag test")
    parser.add_argument("--lag-seconds", type=float, help="duration of the lag test")
    parser.add_argument("--rebuild-events", type=int, help="minimum log size for the rebuild")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help="baselines: report the median of this many rounds"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL

    def pick(name: str) -> Any:
        given = getattr(args, name)
        return preset[name] if given is None else given

    return Settings(
        threads=args.threads,
        saves=pick("saves"),
        rows=pick("rows"),
        pings=pick("pings"),
        users=pick("users"),
        lag_rate=args.lag_rate,
        lag_seconds=pick("lag_seconds"),
        rebuild_events=pick("rebuild_events"),
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        rounds=max(1, args.rounds),
    )


# -- reporting ---------------------------------------------------------------------------


# -- database ----------------------------------------------------------------------------


# -- running work on threads -------------------------------------------------------------


class Ticket:
    """Hands out 0, 1, 2, ... to any number of threads until `total` is reached."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self.total:
                return None
            self._next += 1
            return self._next - 1


def run_threads(threads: int, work: Callable[[int], None]) -> float:
    """Run `work(thread_index)` on `threads` threads; return the wall-clock seconds taken."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as error:
            errors.append(error)

    pool = [threading.Thread(target=guarded, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- 1. baseline A: bare eventsourcing ---------------------------------------------------


class Tally(Aggregate):
    """The smallest useful aggregate: every increment is one event."""

    @event("Created")
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class BareApp(Application[UUID]):
    name = "BenchBare"


def bare_save_rate(app: BareApp, saves: int, threads: int) -> float:
    """Saves/s of `saves` one-event saves spread over `threads` threads, one aggregate each."""
    shares = split(saves, threads)
    tallies = [Tally() for _ in range(threads)]
    app.save(*tallies)

    def work(index: int) -> None:
        tally = tallies[index]
        for _ in range(shares[index]):
            tally.increment()
            app.save(tally)

    return saves / run_threads(threads, work)


Rate = Callable[[int], float]  # operations -> operations per second


def median_of_rounds(label: str, unit: str, total: int, rounds: int, measure: Rate) -> float:
    """Split `total` operations into `rounds` measurements; print them, return the median."""
    rates = [measure(max(1, total // rounds)) for _ in range(rounds)]
    median = sorted(rates)[len(rates) // 2]
    each = ", ".join(f"{r:,.0f}" for r in rates)
    say(f"{label}: {rounds} rounds of {total // rounds}: {each} -> median {median:,.0f} {unit}")
    return median


def baseline_eventsourcing(url: str, settings: Settings) -> tuple[float, float]:
    section("1. Baseline A: bare eventsourcing save loop (eventsourcing_sqlalchemy)")
    app = BareApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
            "SQLALCHEMY_URL": url,
            "CREATE_TABLE": "y",
        }
    )
    t, n, rounds = settings.threads, settings.saves, settings.rounds
    try:
        bare_save_rate(app, 50, 1)  # warm up connections and code paths
        single = median_of_rounds(
            "1 thread", "saves/s", n, rounds, lambda k: bare_save_rate(app, k, 1)
        )
        many = median_of_rounds(
            f"{t} threads", "saves/s", n, rounds, lambda k: bare_save_rate(app, k, t)
        )
    finally:
        app.close()
    return single, many


# -- 2. baseline B: SQLAlchemy Core INSERTs ----------------------------------------------

PAYLOAD = json.dumps({"at": "2026-01-01T00:00:00+00:00", "url": PAGE})


def insert_rate(engine: Engine, table: Table, rows: int, threads: int) -> float:
    shares = split(rows, threads)

    def work(index: int) -> None:
        for _ in range(shares[index]):
            with engine.begin() as conn:
                conn.execute(table.insert().values(payload=PAYLOAD))

    return rows / run_threads(threads, work)


def baseline_core(url: str, settings: Settings) -> tuple[float, float]:
    section("2. Baseline B: single-row INSERT + COMMIT with SQLAlchemy Core")
    table = Table(
        "bench_rows",
        MetaData(),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("payload", Text, nullable=False),
    )
    engine = create_engine(url, pool_size=settings.threads)
    t, n, rounds = settings.threads, settings.rows, settings.rounds
    try:
        table.create(engine)
        insert_rate(engine, table, 50, 1)
        single = median_of_rounds(
            "1 thread", "rows/s", n, rounds, lambda k: insert_rate(engine, table, k, 1)
        )
        many = median_of_rounds(
            f"{t} threads", "rows/s", n, rounds, lambda k: insert_rate(engine, table, k, t)
        )
    finally:
        engine.dispose()
    return single, many


# -- database work per ping (in process, informational) ----------------------------------


def store_engines(store: Parley) -> dict[str, Engine]:
    factory = store.factory
    assert isinstance(factory, StoreFactory)
    return {"write": factory.datastore.writer, "read": factory.datastore.reader}


def count_database_work(engines: dict[str, Engine], action: Callable[[], object]) -> Counter[str]:
    """SQL statements per engine (reads go through the autocommit reader), checkouts, commits."""
    counts: Counter[str] = Counter()
    hooks: list[tuple[Engine, str, Callable[..., None]]] = []
    for kind, engine in engines.items():

        def on_statement(*_args: Any, kind: str = kind) -> None:
            counts[f"{kind} statements"] += 1

        def on_checkout(*_args: Any) -> None:
            counts["checkouts"] += 1

        def on_commit(*_args: Any) -> None:
            counts["commits"] += 1

        hooks += [
            (engine, "before_cursor_execute", on_statement),
            (engine, "checkout", on_checkout),
            (engine, "commit", on_commit),
        ]
    for engine, name, hook in hooks:
        sa_event.listen(engine, name, hook)
    try:
        action()
    finally:
        for engine, name, hook in hooks:
            sa_event.remove(engine, name, hook)
    return counts


def bench_ping(app_id: str, k: int, prefix: str = "u") -> dict[str, Any]:
    """The body widget.js posts on boot, for user number k."""
    return {
        "app_id": app_id,
        "user": {
            "user_id": f"{prefix}{k}",
            "email": f"{prefix}{k}@example.com",
            "name": f"User {prefix}{k}",
            "plan": "pro",
        },
        "url": PAGE,
        "referrer": None,
        "timezone": "Europe/Paris",
    }


def database_work_per_ping(url: str, app_id: str) -> None:
    section("Database work per ping (in process, same code as POST /widget/ping)")
    store = Parley(url)
    try:
        engines = store_engines(store)
        clock = ManualClock()
        user = UserInput(
            user_id="probe",
            email="probe@example.com",
            attributes={"name": "Probe"},
            custom={"plan": "pro"},
        )
        command = Ping(app_id=app_id, user=user, url=PAGE, timezone="Europe/Paris")
        for label in ("first ping of a user", "later ping of the same user"):
            counts = count_database_work(engines, lambda: record_ping(command, store, clock))
            say(
                f"{label}: {counts['read statements']} read and "
                f"{counts['write statements']} write statements, "
                f"{counts['checkouts']} connection checkouts, {counts['commits']} commit"
            )
    finally:
        store.close()


# -- the real server ---------------------------------------------------------------------


def server_env(url: str, port: int, settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        PORT=str(port),
        HOST="127.0.0.1",
        WEB_WORKERS=str(settings.web_workers),
        WEB_THREADS=str(settings.web_threads),
        PROJECTIONS="inline",
        SECRET_KEY="bench",
    )
    return env


def parley(env: dict[str, str], *args: str) -> str:
    """Run the `parley` command line; return its standard output."""
    done = subprocess.run(
        [str(BIN / "parley"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"parley {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def create_bench_app(env: dict[str, str]) -> str:
    parley(env, "migrate")
    created = json.loads(parley(env, "app", "create", "Bench").strip().splitlines()[-1])
    app_id: str = created["app_id"]
    return app_id


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects once if the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=PING_HEADERS)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str) -> Any:
        status, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


def wait_for_health(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"parley serve exited:\n{log.read_text()[-3000:]}")
        client = Client(port)
        try:
            client.get_json("/health")
            return
        except (OSError, http.client.HTTPException, RuntimeError):
            time.sleep(0.2)
        finally:
            client.close()
    raise RuntimeError(f"parley serve did not answer /health in 60 s:\n{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to gunicorn's master (graceful), then SIGKILL to its process group if stuck."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running_server(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        log = Path(tmp) / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(BIN / "parley"), "serve"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_for_health(process, port, log)
                yield process
            finally:
                stop_server(process)


# -- where the CPU goes (Linux /proc; informational) -------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(select: Callable[[str, list[str]], bool]) -> float:
    """User + system CPU seconds of the live processes for which `select(name, fields)` holds;
    `fields` are /proc/<pid>/stat's fields after the name (fields[3] is the session id)."""
    total = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        if select(name, fields):
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


class CpuMeter:
    """CPU used by the server (its gunicorn session) and by PostgreSQL during a phase."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = str(server_pid)
        self.available = Path("/proc/self/stat").exists()
        self.start = self.read()

    def read(self) -> tuple[float, float]:
        if not self.available:
            return (0.0, 0.0)
        server = process_cpu(lambda _name, fields: fields[3] == self.server_pid)
        postgres = process_cpu(lambda name, _fields: name.startswith("postgres"))
        return server, postgres

    def report(self, operations: int, seconds: float, note: str = "") -> None:
        if not self.available or not operations:
            return
        end = self.read()
        server, postgres = (b - a for a, b in zip(self.start, end, strict=True))
        say(
            f"CPU: server {server / operations * 1000:.1f} ms per ping "
            f"({server / seconds:.0%} of one core), PostgreSQL "
            f"{postgres / operations * 1000:.1f} ms per ping ({postgres / seconds:.0%}); "
            f"{os.cpu_count()} cores{note}"
        )


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


# -- 5. rebuild --------------------------------------------------------------------------


HISTORY_CHUNK = 500  # aggregates per save while appending history


def save_in_chunks(store: Parley, aggregates: Sequence[Aggregate]) -> None:
    for start in range(0, len(aggregates), HISTORY_CHUNK):
        store.save(*aggregates[start : start + HISTORY_CHUNK])


def history_cohort(app_id: str, size: int, clock: ManualClock) -> list[tuple[User, Alias]]:
    """New users as a first ping leaves them: Created, Updated, Seen, and an email Alias."""
    cohort = []
    for n in range(size):
        email = f"h{n}@example.com"
        user = User(app_id=app_id, user_id=f"h{n}", email=email, at=clock.now())
        user.update({"email": email, "name": f"History {n}"}, {"plan": "pro"})
        user.record_page_view(clock.now(), PAGE, None, "203.0.113.9", "bench", "Europe/Paris")
        cohort.append((user, Alias(key=email_key(app_id, email), user=user.id)))
    return cohort


def append_history(store: Parley, app_id: str, users: int, target: int) -> int:
    """Append traffic shaped like the pings (a cohort of `users` users, then rounds of one
    page view each, so a user's events are spread over the log) until the log holds
    `target` events; return how many were appended."""
    load_app(store, app_id)
    clock = ManualClock()
    before = store.head()
    cohort = history_cohort(app_id, users, clock)
    save_in_chunks(store, [a for pair in cohort for a in pair])
    while store.head() < target:
        clock.advance(minutes=7)
        for user, _alias in cohort:
            user.record_page_view(clock.now(), PAGE, None, "203.0.113.9", "bench", "Europe/Paris")
        save_in_chunks(store, [user for user, _alias in cohort])
    return store.head() - before


@dataclass(frozen=True)
class RebuildResult:
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def rebuild_speed(url: str, app_id: str, settings: Settings) -> list[RebuildResult]:
    section("5. Projection rebuild (server stopped; in process)")
    store = Parley(url)
    engine = make_engine(url, writer=True)
    try:
        head = store.head()
        if head < settings.rebuild_events:
            started = time.perf_counter()
            added = append_history(store, app_id, settings.users, settings.rebuild_events)
            elapsed = time.perf_counter() - started
            say(
                f"log held {head} events; appended {added} more from {settings.users} users "
                f"in {elapsed:.1f} s (not measured)"
            )
        results = []
        for projection in all_projections():
            started = time.perf_counter()
            events = rebuild(store, engine, projection)
            results.append(RebuildResult(projection.name, events, time.perf_counter() - started))
        for r in results:
            rate = f"{r.rate:,.0f} events/s"
            say(f"{r.name}: {r.events} events replayed in {r.seconds:.2f} s, {rate}")
    finally:
        store.close()
        engine.dispose()
    return results


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


if __name__ == "__main__":
    sys.exit(main())
