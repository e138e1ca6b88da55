"""`parley serve`: gunicorn in front of the Flask app, never Flask's development server.

With PROJECTIONS=inline the server also supervises one projection runner process, so
projections stay current without every web worker competing to update them.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from typing import Any

from gunicorn.app.base import BaseApplication

from web.config import Config

log = logging.getLogger(__name__)
RUNNER = [sys.executable, "-m", "web.cli", "projections", "run"]


SUPERVISOR = [sys.executable, "-m", "web.serve"]


class Sidecar:
    """Keeps one `parley projections run` process (with the reactions) alive next to
    gunicorn, by way of a small supervisor process of its own (`supervise`).

    The supervisor is started from gunicorn's master before it forks any worker: a process
    started from a thread while the master forks a worker could hand that worker the pipe it
    waits on, and never learn that the runner had started (or died)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(SUPERVISOR)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def supervise() -> None:
    """Run the projection runner, and start it again whenever it exits, until SIGTERM."""
    logging.basicConfig(level=logging.INFO)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    runner: subprocess.Popen[bytes] | None = None
    while not stopping.is_set():
        runner = subprocess.Popen(RUNNER)
        log.info("projection runner started (pid %s)", runner.pid)
        while runner.poll() is None and not stopping.wait(0.5):
            pass
        if not stopping.is_set():
            log.error("projection runner exited with %s; restarting", runner.returncode)
            stopping.wait(1.0)
    if runner is not None and runner.poll() is None:
        runner.terminate()
        try:
            runner.wait(timeout=15)
        except subprocess.TimeoutExpired:
            runner.kill()


class ParleyServer(BaseApplication):
    def __init__(self, config: Config, options: dict[str, Any]) -> None:
        self.parley_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from web.app import create_app

        # Workers only serve requests; the sidecar (or an operator's runner) projects.
        return create_app(replace(self.parley_config, projections="external"))


def end_streams_on_exit(worker: Any) -> None:
    """gunicorn's `post_worker_init`: on SIGTERM, end the worker's live streams first, so its
    graceful shutdown does not wait for open dashboards (their browsers reconnect)."""
    graceful = worker.handle_exit

    def handle_exit(signum: int, frame: Any) -> None:
        worker.wsgi.extensions["parley_live"].stop()
        graceful(signum, frame)

    signal.signal(signal.SIGTERM, handle_exit)


def serve(config: Config) -> None:
    sidecar = Sidecar() if config.projections == "inline" else None
    options: dict[str, Any] = {
        "bind": f"{config.host}:{config.port}",
        "workers": config.web_workers,
        # Live dashboard streams hold a thread each while open: they get their own, capped
        # at LIVE_STREAMS by web/live.py, so WEB_THREADS stay free for pings and pages.
        "threads": config.web_threads + config.live_streams,
        "worker_class": "gthread",
        "accesslog": "-",
        "timeout": 60,
        "limit_request_line": 8190,  # the most gunicorn allows: room for a ?filter= of ~8 KB
        "graceful_timeout": 20,
        "post_worker_init": end_streams_on_exit,
    }
    if sidecar is not None:
        options["when_ready"] = lambda _server: sidecar.start()
        options["on_exit"] = lambda _server: sidecar.stop()
    ParleyServer(config, options).run()


if __name__ == "__main__":
    supervise()
