"""The real server (`parley serve`, gunicorn) for the ping and lag measurements, and where
its CPU goes."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import say
from bench.ingest.settings import BIN, PING_HEADERS, ROOT, Settings

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

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers or PING_HEADERS)
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
