"""What workers are handed by the composition root (web/bootstrap.py): the settings they read
and the services they use. Declared here, as protocols, so that workers depend on what they
need and not on the web package that happens to wire them."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from commands.clock import Clock
from commands.email import Mailing
from commands.mime import Limits
from commands.store import Parley
from commands.users import Locate
from projections.runner import Runner


class Settings(Protocol):
    """The configuration workers read, as web/config.py's Config hands it down: what emails'
    links and reply addresses are made of, how email comes in, and where email goes out."""

    @property
    def mailing(self) -> Mailing: ...
    @property
    def inbound(self) -> Limits: ...
    @property
    def smtp_url(self) -> str | None: ...
    @property
    def webhook_allow_private(self) -> bool: ...
    @property
    def outbox_dir(self) -> str: ...
    @property
    def inbound_host(self) -> str: ...
    @property
    def inbound_port(self) -> int: ...


class Services(Protocol):
    """The event store, the projections' engine and runner, and the clock."""

    @property
    def config(self) -> Settings: ...
    @property
    def store(self) -> Parley: ...
    @property
    def locate(self) -> Locate: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def runner(self) -> Runner: ...
    @property
    def clock(self) -> Clock: ...
