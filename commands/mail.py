"""Handing emails over: to an SMTP server (`SMTP_URL`) or, unset, to files in `OUTBOX_DIR`."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit


class MailRefused(Exception):
    """The server refused before accepting the message: nothing was sent."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Outbox:
    """Each email as a .eml file (`make run`'s default: read them, nothing leaves the box)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_")
        (self.folder / f"{name}.eml").write_bytes(bytes(message))


class Smtp:
    """`smtp://user:password@host:port` (STARTTLS with `?starttls=1`) or `smtps://…`."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port")
        self.secure = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.secure else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true")
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        """Raise MailRefused when nothing was sent; other errors mean the outcome is unknown."""
        try:
            client = (
                smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout)
                if self.secure
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            )
        except OSError as error:
            raise MailRefused(f"cannot reach {self.host}:{self.port}: {error}") from error
        with client:
            try:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.user is not None:
                    client.login(self.user, self.password or "")
            except (smtplib.SMTPException, OSError) as error:
                raise MailRefused(str(error)) from error
            try:
                client.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
                raise MailRefused(str(error)) from error
            except smtplib.SMTPDataError as error:
                # A reply to DATA is the server's verdict on the whole message: refused.
                raise MailRefused(str(error)) from error


def transport(smtp_url: str | None, outbox_dir: str) -> Transport:
    return Smtp(smtp_url) if smtp_url else Outbox(outbox_dir)
