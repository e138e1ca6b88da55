"""`parley inbound`: an SMTP server (aiosmtpd) taking email for the apps' incoming addresses.

It accepts a recipient only when it is an app's address (`APP_ID@INBOUND_DOMAIN`, or a reply
address `APP_ID+TOKEN@…`), and answers DATA only once the email is stored (250) or refused
with its reason (5xx): a mail server that got 250 can forget the email, Parley has it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from commands.apps import recent_app
from commands.errors import AppNotFound
from commands.inbound import app_of, receive
from commands.mime import Refused
from workers.services import Services

log = logging.getLogger("parley.inbound")


def _reply_line(code: int, reason: str) -> str:
    printable = "".join(c if c.isprintable() else "?" for c in reason)[:400]
    status = "5.3.4" if code == 552 else "5.6.0"
    return f"{code} {status} {printable}"


class InboundHandler:
    """aiosmtpd's handler: recipients checked at RCPT, the email stored at DATA."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.limits = services.config.inbound

    def _known(self, address: str) -> bool:
        target = app_of(address, self.limits.domain)
        if target is None:
            return False
        try:
            recent_app(self.services.store, target[0])
        except AppNotFound:
            return False
        return True

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        known = await asyncio.get_running_loop().run_in_executor(None, self._known, address)
        if not known:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        return await asyncio.get_running_loop().run_in_executor(
            None, self.take, bytes(raw), list(envelope.rcpt_tos)
        )

    def take(self, raw: bytes, recipients: list[str]) -> str:
        """Store the email once for each app it was sent to; the SMTP reply."""
        by_app: dict[str, str] = {}
        for address in recipients:
            target = app_of(address, self.limits.domain)
            if target is not None:
                by_app.setdefault(target[0], address)
        refusals: list[Refused] = []
        for app_id, address in by_app.items():
            s = self.services
            try:  # what follows (emails to the team) is the reactions' (workers/reactions.py)
                receive(s.store, s.engine, s.clock, self.limits, app_id, raw, address)
            except Refused as refused:
                refusals.append(refused)
                continue
            except Exception:
                log.exception("inbound email for %s failed", app_id)
                return "451 4.3.0 could not store the email now; try again later"
        if refusals and len(refusals) == len(by_app):
            return _reply_line(refusals[0].code, refusals[0].reason)
        return "250 OK stored"


def start_server(
    services: Services, host: str | None = None, port: int | None = None
) -> Controller:
    """Listen on INBOUND_HOST:INBOUND_PORT (or those given) until `stop()`."""
    config = services.config
    controller = Controller(
        InboundHandler(services),
        hostname=host or config.inbound_host,
        port=config.inbound_port if port is None else port,
        data_size_limit=config.inbound.max_bytes,
        server_hostname=config.inbound.domain,
    )
    controller.start()
    return controller
