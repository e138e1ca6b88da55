"""Reading an incoming email (MIME): its sender, subject, threading headers, the user's words
(trimmed of quoted history: commands/trimming.py, commands/html_text.py) and its attachments;
or the reason it cannot be taken."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses

from commands.html_text import html_to_text
from commands.trimming import trim
from domain.conversations import MAX_BODY, Attachment

MAX_ATTACHMENTS = 20
AUTOMATIC = re.compile(r"^(auto-replied|auto-generated|auto-notified)", re.IGNORECASE)


class Refused(Exception):
    """The email cannot be taken; `reason` says why (sent back to the mail server or the
    webhook's caller, and logged). Nothing was stored."""

    def __init__(self, reason: str, code: int = 550) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code  # the SMTP reply code: 550 refused, 552 too large


@dataclass(frozen=True)
class Limits:
    domain: str
    secret_key: str
    max_bytes: int = 25 * 1024 * 1024
    attachment_max_bytes: int = 10 * 1024 * 1024


@dataclass
class Parsed:
    sender_name: str
    sender: str
    subject: str | None
    message_id: str | None
    references: str
    recipients: list[str]
    text: str
    files: list[tuple[Attachment, bytes]] = field(default_factory=list)


def parse(raw: bytes, limits: Limits) -> Parsed:
    """The parts of an email Parley keeps, or Refused with the reason."""
    try:
        return _parse(raw, limits)
    except RecursionError:  # Python's email parser and walks recurse into nested parts
        raise Refused("the email's parts nest too deep to be read") from None


def _parse(raw: bytes, limits: Limits) -> Parsed:
    if len(raw) > limits.max_bytes:
        raise Refused(f"the email is {len(raw)} bytes; the limit is {limits.max_bytes}", 552)
    if not raw.strip():
        raise Refused("the email is empty")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        froms = message.get_all("From", [])
        sender = froms[0] if len(froms) == 1 else None
        addresses = list(getattr(sender, "addresses", ()))
        subject = _one_line(_header(message, "Subject"))
        message_id = _one_line(_header(message, "Message-ID"))
        references = " ".join(
            filter(None, [_header(message, "In-Reply-To"), _header(message, "References")])
        )[:20_000]
        recipients = [
            address.lower()
            for name in ("To", "Cc", "Delivered-To", "X-Original-To")
            for _, address in getaddresses([str(h) for h in message.get_all(name, [])])
            if address
        ]
    except (HeaderParseError, ValueError, TypeError, IndexError, AssertionError) as error:
        raise Refused(f"the email's headers cannot be read: {error}") from None
    # A From that parses only with defects ("ann@acme.io <mallory@evil.io>") names nobody.
    defects = getattr(sender, "defects", None)
    if sender is None or defects or len(addresses) != 1:
        raise Refused("the email needs exactly one well-formed sender address in From")
    address = str(addresses[0].addr_spec).strip().lower()
    if "@" not in address or any(c.isspace() or not c.isprintable() for c in address):
        raise Refused("the email needs exactly one well-formed sender address in From")
    if _is_automatic(message):
        raise Refused("automatic reply (Auto-Submitted or Precedence): not posted", 250)
    text, files = _content(message, limits)
    if not text and not files:
        raise Refused("the email has no text nor attachments")
    return Parsed(
        sender_name=_one_line(str(addresses[0].display_name)) or "",
        sender=address,
        subject=subject,
        message_id=message_id,
        references=references,
        recipients=recipients,
        text=text[:MAX_BODY],
        files=files,
    )


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value)


def _one_line(value: str | None, limit: int = 255) -> str | None:
    """A header value as one line of printable text (never a way to add headers)."""
    if value is None:
        return None
    flat = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return flat[:limit] or None


def _is_automatic(message: Message) -> bool:
    submitted = str(message.get("Auto-Submitted", "no")).strip()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return bool(AUTOMATIC.match(submitted)) or precedence in ("auto_reply", "bulk", "junk")


def _content(message: EmailMessage, limits: Limits) -> tuple[str, list[tuple[Attachment, bytes]]]:
    """The email's new words (its plain text, else its HTML, trimmed) and its attachments:
    every other leaf part, nested ones and forwarded emails included."""
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    text = trim(_text_of(plain)) if plain is not None else ""
    if not text.strip() and rich is not None:
        text = trim(html_to_text(_text_of(rich)))
    files: list[tuple[Attachment, bytes]] = []
    for part in _leaves(message):
        if part is plain or part is rich or _is_alternative_text(part):
            continue
        data = _bytes_of(part)
        name = _file_name(part)
        if len(data) > limits.attachment_max_bytes:
            raise Refused(
                f"attachment {name!r} is {len(data)} bytes; the limit is "
                f"{limits.attachment_max_bytes}",
                552,
            )
        kept: Attachment = {
            "name": name,
            "content_type": part.get_content_type(),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        files.append((kept, data))
    if len(files) > MAX_ATTACHMENTS:
        raise Refused(f"the email has {len(files)} attachments; the limit is {MAX_ATTACHMENTS}")
    return text, files


def _leaves(part: Message) -> list[Message]:
    """The parts that hold content: inside multiparts, but a forwarded email (message/*) is
    one part, kept whole."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        assert isinstance(payload, list)
        return [leaf for child in payload if isinstance(child, Message) for leaf in _leaves(child)]
    return [part]


def _is_alternative_text(part: Message) -> bool:
    """Another rendering of the body (not a text file someone attached)."""
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def _bytes_of(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        return part.as_bytes(policy=policy.SMTP)
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, bytes):
        raise Refused("an attachment cannot be decoded")
    return data


def _file_name(part: Message) -> str:
    default = "forwarded.eml" if part.get_content_maintype() == "message" else "attachment"
    name = _one_line((part.get_filename() or "").replace("/", "_").replace("\\", "_"))
    return default if not name or set(name) <= {"."} else name


def _text_of(part: Message) -> str:
    """A text part's words; an unknown or wrong charset is read as UTF-8, replacing what is
    not."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content[:TEXT_LIMIT]
    except (LookupError, UnicodeError, ValueError, AssertionError):
        pass
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace")[:TEXT_LIMIT] if isinstance(data, bytes) else ""


# Read no further than this: trimming skips quoted lines cheaply, so a reply below a long
# quote is found, and looks at no more than 200,000 characters of the rest.
TEXT_LIMIT = 5_000_000
