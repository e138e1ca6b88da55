"""Email into the inbox (seed: "Forwarding support emails to your Intercom Inbox").

Each app has an incoming address, `APP_ID@INBOUND_DOMAIN`. An email to it from a user (matched
by the sender's address; an unknown sender becomes a new user) starts a conversation. Replies
thread into their conversation by the token Parley put in the Reply-To address
(`APP_ID+TOKEN@…`) or in the Message-ID that the reply's In-Reply-To/References repeat; a
teammate replying to a notification email posts a teammate's comment. Quoted history and
signatures are trimmed; attachments are kept (each up to ATTACHMENT_MAX_BYTES) in the
`attachments` table, named by their SHA-256, before the part that refers to them is saved.

Each email is recorded as an `InboundEmail` aggregate keyed by its Message-ID, in the same
atomic append as the conversation change: a redelivered email is recognised and never posted
twice, and a refused one (with its logged reason) leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from uuid import UUID, uuid5

import nh3
from email_reply_parser import EmailReplyParser
from eventsourcing.domain import Aggregate, event
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from commands.apps import recent_app
from commands.clock import Clock
from commands.conversations import Resolve, load_conversation, reply, start_by_user
from commands.email import read_reply_tokens
from commands.errors import AppNotFound, ConversationNotFound
from commands.store import Parley
from commands.users import UserInput, apply_user_input, resolve_user
from domain.conversations import MAX_BODY, Attachment
from domain.errors import InvalidValue
from domain.identity import NAMESPACE
from domain.user import User
from projections.tables import attachments as attachments_table

log = logging.getLogger("parley.inbound")

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
class Outcome:
    """What became of one email: posted (`new` or a reply), or ignored as a duplicate or an
    automatic reply. `notify` says which job should email whom about the new part."""

    status: str  # "started", "replied", "duplicate", "ignored"
    conversation_id: str | None = None
    part_id: str | None = None
    author: dict[str, str] | None = None
    reason: str | None = None
    email_user: bool = False  # a teammate's comment, in a conversation held by email


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


class InboundEmail(Aggregate):
    """One email received, once: what it was and where it went (for auditors)."""

    @staticmethod
    def create_id(app_id: str, email_id: str) -> UUID:
        return inbound_key(app_id, email_id)

    @event("Received")
    def __init__(
        self,
        app_id: str,
        email_id: str,
        sender: str,
        subject: str | None,
        size: int,
        conversation_id: str,
        part_id: str | None,
        at: int,
    ) -> None:
        self.app_id = app_id
        self.email_id = email_id
        self.sender = sender
        self.subject = subject
        self.size = size
        self.conversation_id = conversation_id
        self.part_id = part_id
        self.at = at


def inbound_key(app_id: str, email_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/inbound/{email_id}")


# -- reading the email --------------------------------------------------------------------


def parse(raw: bytes, limits: Limits) -> Parsed:
    """The parts of an email Parley keeps, or Refused with the reason."""
    if len(raw) > limits.max_bytes:
        raise Refused(f"the email is {len(raw)} bytes; the limit is {limits.max_bytes}", 552)
    if not raw.strip():
        raise Refused("the email is empty")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        senders = getaddresses([str(h) for h in message.get_all("From", [])])
        subject = _header(message, "Subject")
        message_id = _header(message, "Message-ID")
        references = " ".join(
            filter(None, [_header(message, "In-Reply-To"), _header(message, "References")])
        )
        recipients = [
            address.lower()
            for name in ("To", "Cc", "Delivered-To", "X-Original-To")
            for _, address in getaddresses([str(h) for h in message.get_all(name, [])])
            if address
        ]
    except (HeaderParseError, ValueError, TypeError, IndexError, AssertionError) as error:
        raise Refused(f"the email's headers cannot be read: {error}") from None
    senders = [(name, address) for name, address in senders if "@" in address]
    if len(senders) != 1:
        raise Refused("the email needs exactly one sender address in From")
    if _is_automatic(message):
        raise Refused("automatic reply (Auto-Submitted or Precedence): not posted", 250)
    text, files = _content(message, limits)
    if not text and not files:
        raise Refused("the email has no text (after trimming quoted history) nor attachments")
    name, address = senders[0]
    return Parsed(
        sender_name=name.strip(),
        sender=address.strip().lower(),
        subject=(subject or "").strip()[:255] or None,
        message_id=(message_id or "").strip()[:255] or None,
        references=references,
        recipients=recipients,
        text=text[:MAX_BODY],
        files=files,
    )


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value)


def _is_automatic(message: Message) -> bool:
    submitted = str(message.get("Auto-Submitted", "no")).strip()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return bool(AUTOMATIC.match(submitted)) or precedence in ("auto_reply", "bulk", "junk")


def _content(message: EmailMessage, limits: Limits) -> tuple[str, list[tuple[Attachment, bytes]]]:
    files: list[tuple[Attachment, bytes]] = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        if part.get_content_maintype() == "multipart":
            continue
        try:
            data = part.get_payload(decode=True)
        except (ValueError, TypeError):
            data = None
        if not isinstance(data, bytes):
            raise Refused("an attachment cannot be decoded")
        name = (part.get_filename() or "attachment").strip()[:255] or "attachment"
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
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    try:
        if plain is not None:
            text = _text_of(plain)
        elif rich is not None:
            text = html_to_text(_text_of(rich))
        else:
            text = ""
    except (LookupError, UnicodeError, ValueError) as error:
        raise Refused(f"the email's text cannot be decoded: {error}") from None
    return trim(text), files


def _text_of(part: Message) -> str:
    content = part.get_content()  # type: ignore[attr-defined]
    if not isinstance(content, str):
        raise ValueError("not text")
    return content


def html_to_text(document: str) -> str:
    """The words of an HTML email, without quoted history (blockquotes, Gmail's quote)."""
    document = re.sub(
        r"<div[^>]*class=\"?[^\">]*(gmail_quote|moz-cite-prefix)[^>]*>.*",
        "",
        document,
        flags=re.IGNORECASE | re.DOTALL,
    )
    document = re.sub(r"<br\s*/?>|</(p|div|li|tr|h[1-6])>", "\n", document, flags=re.IGNORECASE)
    words = nh3.clean(
        document,
        tags=set(),
        attributes={},
        clean_content_tags={"blockquote", "style", "script", "head"},
    )
    return html.unescape(words)


SIGNATURE = re.compile(r"^-- ?$")
FORWARDED_HISTORY = re.compile(
    r"^(-{2,}\s*Original Message\s*-{2,}|_{10,}|From: .+|Sent from my \w+.*)$", re.IGNORECASE
)


def trim(text: str) -> str:
    """The new words of a reply: quoted history ("On … wrote:", "> …", "Original Message")
    and the signature (after "-- ") left out."""
    text = text.replace("\r\n", "\n")
    kept = EmailReplyParser.parse_reply(text)
    lines = kept.split("\n")
    for index, line in enumerate(lines):
        if SIGNATURE.match(line.rstrip("\n")) or FORWARDED_HISTORY.match(line.strip()):
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


# -- where it goes --------------------------------------------------------------------------


def app_of(address: str, domain: str) -> tuple[str, str | None] | None:
    """`APP_ID@domain` or `APP_ID+TOKEN@domain`: (app id, token or None)."""
    local, _, at = address.strip().lower().rpartition("@")
    if at != domain.lower() or not local:
        return None
    app_id, _, token = local.partition("+")
    return (app_id, token or None) if app_id else None


def receive(
    store: Parley,
    engine: Engine,
    clock: Clock,
    limits: Limits,
    app_id: str,
    raw: bytes,
    recipient: str | None = None,
) -> Outcome:
    """Take one email for one app: post it, or raise Refused (logged) with nothing stored."""
    try:
        try:
            return _receive(store, engine, clock, limits, app_id, raw, recipient)
        except InvalidValue as invalid:  # e.g. the sender's user was deleted meanwhile
            raise Refused(f"{invalid.field}: {invalid.reason}") from None
    except Refused as refused:
        log.warning("inbound email for %s refused: %s", app_id, refused.reason)
        raise


def _receive(
    store: Parley,
    engine: Engine,
    clock: Clock,
    limits: Limits,
    app_id: str,
    raw: bytes,
    recipient: str | None,
) -> Outcome:
    try:
        app = recent_app(store, app_id)
    except AppNotFound:
        raise Refused(f"no app {app_id!r} here") from None
    try:
        parsed = parse(raw, limits)
    except Refused as refused:
        if refused.code == 250:
            log.info("inbound email for %s ignored: %s", app_id, refused.reason)
            return Outcome("ignored", reason=refused.reason)
        raise
    email_id = parsed.message_id or f"<sha256:{hashlib.sha256(raw).hexdigest()}>"
    key = inbound_key(app_id, email_id)
    earlier = store.get_as(InboundEmail, key)
    if earlier is not None:
        return Outcome("duplicate", earlier.conversation_id, earlier.part_id)
    # A token: in the address the email was sent to, else in the Message-IDs it answers.
    addressed = " ".join(filter(None, [recipient, *parsed.recipients]))
    tokens = [
        t for t in read_reply_tokens(limits.secret_key, addressed) if _belongs(store, app_id, t)
    ]
    tokens += [
        t
        for t in read_reply_tokens(limits.secret_key, parsed.references)
        if _belongs(store, app_id, t)
    ]
    admin = app.admin_with_email(parsed.sender)
    _keep(engine, app_id, parsed.files, clock)
    attached = [kept for kept, _ in parsed.files]

    def record(conversation_id: str, part_id: str | None) -> InboundEmail:
        if store.find(key) is not None:  # the same email, taken meanwhile by another process
            raise _Duplicate()
        return InboundEmail(
            app_id=app_id,
            email_id=email_id,
            sender=parsed.sender,
            subject=parsed.subject,
            size=len(raw),
            conversation_id=conversation_id,
            part_id=part_id,
            at=int(clock.now().timestamp()),
        )

    if tokens:
        conversation_id, who = tokens[0]
        conversation = load_conversation(store, app_id, conversation_id)
        if who == "u":
            if admin is not None:
                raise Refused("this reply address was given to the user, not to a teammate")
            author = {"type": "user", "id": conversation.user_key}
        else:
            if admin is None or admin["id"] != who[1:]:
                raise Refused(
                    "this reply address was given to a teammate; the sender is not that teammate"
                )
            author = {"type": "admin", "id": who[1:]}
        try:
            part = reply(
                store,
                app_id,
                conversation_id,
                author,
                "comment",
                clock,
                body=parsed.text,
                via="email",
                attachments=attached,
                record=record,
            )
        except _Duplicate:
            return _duplicate(store, key)
        by_admin = author["type"] == "admin"
        outcome = Outcome(
            "replied",
            conversation_id,
            part["id"],
            author,
            email_user=by_admin and conversation.via == "email",
        )
    else:
        if admin is not None:
            raise Refused(
                "a teammate's email must answer a conversation (reply to its notification email)"
            )
        try:
            started = start_by_user(
                store,
                _sender(app_id, parsed, store),
                parsed.text,
                clock,
                via="email",
                subject=parsed.subject,
                email_id=parsed.message_id,
                attachments=attached,
                record=record,
            )
        except _Duplicate:
            return _duplicate(store, key)
        outcome = Outcome("started", started.conversation_id, None, started.author)
    log.info(
        "inbound email %s from %s: %s %s",
        email_id,
        parsed.sender,
        outcome.status,
        outcome.conversation_id,
    )
    return outcome


def _duplicate(store: Parley, key: UUID) -> Outcome:
    earlier = store.get_as(InboundEmail, key)
    assert earlier is not None
    return Outcome("duplicate", earlier.conversation_id, earlier.part_id)


class _Duplicate(Exception):
    pass


def _belongs(store: Parley, app_id: str, token: tuple[str, str]) -> bool:
    try:
        load_conversation(store, app_id, token[0])
    except ConversationNotFound:  # another app's: not a thread of this one
        return False
    return True


def _sender(app_id: str, parsed: Parsed, store: Parley) -> Resolve:
    """Finds the user with the sender's address, or makes one named as the From header names
    them, with what to save alongside; saved with the conversation, all or nothing."""

    def resolve(now: datetime) -> tuple[User, list[Aggregate]]:
        user, aliases = resolve_user(store, app_id, None, parsed.sender, now)
        others: list[Aggregate] = []
        if user.deleted or not user.name:
            attributes = {"name": parsed.sender_name} if parsed.sender_name else {}
            given = UserInput(email=parsed.sender, attributes=attributes)
            others = apply_user_input(store, user, given, by="email", at=now)
        return user, [*aliases, *others]

    return resolve


def _keep(engine: Engine, app_id: str, files: list[tuple[Attachment, bytes]], clock: Clock) -> None:
    """Store attachments first: a part never names bytes that are not there. Stored bytes
    are named by their hash, so storing again (a retried email) changes nothing."""
    if not files:
        return
    for kept, data in files:
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(attachments_table).values(
                        app_id=app_id,
                        sha256=kept["sha256"],
                        content_type=kept["content_type"],
                        size=kept["size"],
                        data=data,
                        created_at=int(clock.now().timestamp()),
                    )
                )
        except SqlIntegrityError:
            pass  # the same bytes, kept before


def file_token(secret_key: str, app_id: str, sha256: str) -> str:
    """An attachment's link needs no login and cannot be made for another app's files."""
    return str(URLSafeSerializer(secret_key, salt="file").dumps([app_id, sha256]))


def read_file_token(secret_key: str, token: str) -> tuple[str, str] | None:
    try:
        app_id, sha256 = URLSafeSerializer(secret_key, salt="file").loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return str(app_id), str(sha256)


def attachment(engine: Engine, app_id: str, sha256: str) -> tuple[str, bytes] | None:
    """An attachment's content type and bytes."""
    with engine.connect() as conn:
        row = conn.execute(
            select(attachments_table.c.content_type, attachments_table.c.data).where(
                attachments_table.c.app_id == app_id, attachments_table.c.sha256 == sha256
            )
        ).first()
    return None if row is None else (str(row[0]), bytes(row[1]))
