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

from eventsourcing.domain import Aggregate, event
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from commands.apps import recent_app
from commands.clock import Clock
from commands.conversations import Resolve, load_conversation, reply, start_by_user
from commands.email import read_reply_tokens
from commands.errors import AppNotFound, ConversationNotFound
from commands.html_text import html_to_text
from commands.store import Parley
from commands.trimming import trim
from commands.users import UserInput, apply_user_input, resolve_user
from domain.conversations import MAX_BODY, Attachment, Conversation
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
    def create_id(app_id: str, email_id: str, sender: str) -> UUID:
        return inbound_key(app_id, email_id, sender)

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
        author: dict[str, str] | None,
        at: int,
    ) -> None:
        self.app_id = app_id
        self.author = author  # None: the sender's user, who started the conversation
        self.email_id = email_id
        self.sender = sender
        self.subject = subject
        self.size = size
        self.conversation_id = conversation_id
        self.part_id = part_id
        self.at = at


def inbound_key(app_id: str, email_id: str, sender: str) -> UUID:
    """Keyed by sender too: someone else's email reusing a Message-ID is not a duplicate."""
    return uuid5(NAMESPACE, f"{app_id}/inbound/{sender} {email_id}")


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
    if read_reply_tokens(limits.secret_key, parsed.message_id or ""):
        reason = "one of Parley's own emails came back: not posted"
        log.info("inbound email for %s ignored: %s", app_id, reason)
        return Outcome("ignored", reason=reason)
    email_id = parsed.message_id or f"<sha256:{hashlib.sha256(raw).hexdigest()}>"
    key = inbound_key(app_id, email_id, parsed.sender)
    if store.get_as(InboundEmail, key) is not None:
        return _duplicate(store, key)
    admin = app.admin_with_email(parsed.sender)
    # A token: in the address the email was sent to, else in the Message-IDs it answers; only
    # one given to this sender counts (a user's to that user's address, a teammate's to them).
    addressed = read_reply_tokens(
        limits.secret_key, " ".join([recipient or "", *parsed.recipients])
    )
    answered = read_reply_tokens(limits.secret_key, parsed.references)
    seen: set[tuple[str, str]] = set()
    tokens = []
    for token in [*addressed, *answered][:50]:
        if token not in seen and _given_to_sender(store, app_id, token, parsed.sender, admin):
            tokens.append(token)
        seen.add(token)
    if not tokens and any(who != "u" for _, who in addressed):
        raise Refused("this reply address was given to a teammate; the sender is not that teammate")
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
            author=author,
            at=int(clock.now().timestamp()),
        )

    if tokens:
        conversation_id, who = tokens[0]
        conversation = load_conversation(store, app_id, conversation_id)
        author = (
            {"type": "user", "id": conversation.user_key}
            if who == "u"
            else {"type": "admin", "id": who[1:]}
        )
        _keep(engine, app_id, parsed.files, clock)
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
        author = None  # the sender's user, found or made when saving
        _keep(engine, app_id, parsed.files, clock)
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
    """An email taken before: where it went, so that its follow-up emails (each sent at
    most once) can be asked for again in case they were lost."""
    earlier = store.get_as(InboundEmail, key)
    assert earlier is not None
    conversation = store.get_as(Conversation, UUID(hex=earlier.conversation_id))
    author = earlier.author or (conversation.author if conversation is not None else None)
    by_admin = author is not None and author["type"] == "admin"
    return Outcome(
        "duplicate",
        earlier.conversation_id,
        earlier.part_id,
        author,
        email_user=by_admin and conversation is not None and conversation.via == "email",
    )


class _Duplicate(Exception):
    pass


def _given_to_sender(
    store: Parley,
    app_id: str,
    token: tuple[str, str],
    sender: str,
    admin: dict[str, str] | None,
) -> bool:
    """Whether a reply token names a conversation of this app and was given to the sender:
    the conversation's user (by their address) or the teammate it names."""
    conversation_id, who = token
    try:
        conversation = load_conversation(store, app_id, conversation_id)
    except ConversationNotFound:  # another app's: not a thread of this one
        return False
    if who != "u":
        return admin is not None and admin["id"] == who[1:]
    user = store.get_as(User, UUID(hex=conversation.user_key))
    return admin is None and user is not None and (user.email or "").lower() == sender


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
