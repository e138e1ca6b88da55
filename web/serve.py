"""`parley serve`: gunicorn in front of the Flask app, never Flask's development server.

With PROJECTIONS=inline the server also supervises one projection runner process, so
projections stay current without every web worker competing to update them.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from dataclasses import replace
from typing import Any

from gunicorn.app.base import BaseApplication

from web.config import Config

log = logging.getLogger(__name__)
RUNNER = [sys.executable, "-m", "web.cli", "projections", "run"]


class Sidecar:
    """Keeps one `parley projections run` process alive next to gunicorn."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._supervise, name="runner", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            self.process = subprocess.Popen(RUNNER)
            code = self.process.wait()
            if not self.stopping.is_set():
                log.error("projection runner exited with %s; restarting", code)
                self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


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


def serve(config: Config) -> None:
    sidecar = Sidecar() if config.projections == "inline" else None
    options: dict[str, Any] = {
        "bind": f"{config.host}:{config.port}",
        "workers": config.web_workers,
        "threads": config.web_threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "timeout": 60,
        "limit_request_line": 8190,  # the most gunicorn allows: room for a ?filter= of ~8 KB
        "graceful_timeout": 20,
    }
    if sidecar is not None:
        options["when_ready"] = lambda _server: sidecar.start()
        options["on_exit"] = lambda _server: sidecar.stop()
    ParleyServer(config, options).run()
