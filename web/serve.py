"""`parley serve`: gunicorn in front of the Flask app, never Flask's development server."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from web.config import Config


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

        return create_app(self.parley_config)


def serve(config: Config) -> None:
    options = {
        "bind": f"{config.host}:{config.port}",
        "workers": config.web_workers,
        "threads": config.web_threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "timeout": 60,
        "graceful_timeout": 20,
    }
    ParleyServer(config, options).run()
