"""Configuration, read once from environment variables (all documented in the README)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from commands.email import Mailing
from commands.mime import Limits


@dataclass(frozen=True)
class Config:
    database_url: str = "sqlite:///var/parley.db"
    redis_url: str | None = None
    smtp_url: str | None = None
    outbox_dir: str = "var/outbox"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = ""
    geoip_db: str | None = None
    projections: str = "inline"
    reactions: str = "inline"  # inline: beside the projections; external: `parley reactions run`
    web_workers: int = 1
    web_threads: int = 8
    live_streams: int = 64  # open dashboards' streams per web process, on threads of their own
    trusted_proxies: int = 0
    public_url: str = ""  # where links in emails point; default http://HOST:PORT
    email_workers: int = 2
    sweep_seconds: float = 60.0  # auto emails and lost work; 0: no sweep in this process
    inbound_domain: str = "parley.localhost"  # apps' incoming addresses: APP_ID@this
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 2525
    inbound_max_bytes: int = 25 * 1024 * 1024  # a whole incoming email
    attachment_max_bytes: int = 10 * 1024 * 1024  # each attachment kept
    # Apps with at least this many users count filters with an in-memory index (per web
    # process); None: never (queries/audience/).
    audience_index_min_users: int | None = 100_000
    rate_limit_per_minute: int = 10_000  # REST calls per app (Intercom 1.x's figure)
    widget_conversations_per_hour: int = 10  # conversations one user starts from the widget
    webhook_allow_private: bool = False  # webhooks to loopback/private addresses (tests)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @cached_property
    def mailing(self) -> Mailing:
        """What links and reply addresses in emails are made of (commands and workers)."""
        return Mailing(self.base_url, self.secret_key, self.inbound_domain)

    @cached_property
    def inbound(self) -> Limits:
        """How email comes in: the apps' domain, the tokens' key and the size limits."""
        return Limits(
            self.inbound_domain, self.secret_key, self.inbound_max_bytes, self.attachment_max_bytes
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if environ is None else environ)
        projections = env.get("PROJECTIONS", "inline")
        if projections not in ("inline", "external"):
            raise ValueError("PROJECTIONS must be 'inline' or 'external'")
        reactions = env.get("REACTIONS", "inline")
        if reactions not in ("inline", "external"):
            raise ValueError("REACTIONS must be 'inline' or 'external'")
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            redis_url=env.get("REDIS_URL") or None,
            smtp_url=env.get("SMTP_URL") or None,
            outbox_dir=env.get("OUTBOX_DIR") or cls.outbox_dir,
            host=env.get("HOST") or cls.host,
            port=int(env.get("PORT") or cls.port),
            secret_key=env.get("SECRET_KEY") or _local_secret(),
            geoip_db=env.get("GEOIP_DB") or None,
            projections=projections,
            reactions=reactions,
            web_workers=int(env.get("WEB_WORKERS") or cls.web_workers),
            web_threads=int(env.get("WEB_THREADS") or cls.web_threads),
            live_streams=int(env.get("LIVE_STREAMS") or cls.live_streams),
            trusted_proxies=int(env.get("TRUSTED_PROXIES") or 0),
            public_url=env.get("PUBLIC_URL") or "",
            email_workers=int(env.get("EMAIL_WORKERS") or cls.email_workers),
            sweep_seconds=float(env.get("SWEEP_SECONDS") or cls.sweep_seconds),
            inbound_domain=(env.get("INBOUND_DOMAIN") or cls.inbound_domain).lower(),
            inbound_host=env.get("INBOUND_HOST") or cls.inbound_host,
            inbound_port=int(env.get("INBOUND_PORT") or cls.inbound_port),
            inbound_max_bytes=int(env.get("INBOUND_MAX_BYTES") or cls.inbound_max_bytes),
            attachment_max_bytes=int(env.get("ATTACHMENT_MAX_BYTES") or cls.attachment_max_bytes),
            audience_index_min_users=_min_users(env.get("AUDIENCE_INDEX_MIN_USERS")),
            rate_limit_per_minute=_positive(
                env, "RATE_LIMIT_PER_MINUTE", cls.rate_limit_per_minute
            ),
            webhook_allow_private=env.get("WEBHOOK_ALLOW_PRIVATE", "") in ("1", "true", "yes"),
            widget_conversations_per_hour=_positive(
                env, "WIDGET_CONVERSATIONS_PER_HOUR", cls.widget_conversations_per_hour
            ),
        )

    def incoming_address(self, app_id: str) -> str:
        """Where an app's support email is forwarded to (seed: "Each app has a unique
        incoming email address")."""
        return f"{app_id}@{self.inbound_domain}"


def _positive(env: dict[str, str], name: str, default: int) -> int:
    written = env.get(name)
    if not written:
        return default
    if not written.isdigit() or int(written) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {written!r}")
    return int(written)


def _min_users(written: str | None) -> int | None:
    if not written:
        return Config.audience_index_min_users
    if written.strip().lower() == "off":
        return None
    found = int(written)
    if found < 0:
        raise ValueError("AUDIENCE_INDEX_MIN_USERS must be a number of users or 'off'")
    return found


def _local_secret() -> str:
    """Without SECRET_KEY, keep a random one under ./var so restarts keep signed links valid."""
    path = Path("var/secret_key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
