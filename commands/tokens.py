"""Every signed token Parley puts in a link or an address, made and read here: unsubscribe
links, open and click tracking, reply addresses and Message-IDs, attachment links, teammates'
invitations. Each kind has its own salt, so one kind can never be read as another."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from itsdangerous import BadSignature, URLSafeSerializer


def unsubscribe_token(
    secret_key: str, app_id: str, user_key: str, message_id: str | None = None
) -> str:
    """A link that needs no login and cannot be forged for another user or app; it names
    the email it came in, for that message's stats."""
    named = [app_id, user_key] + ([message_id] if message_id is not None else [])
    return str(URLSafeSerializer(secret_key, salt="unsubscribe").dumps(named))


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[str, str, str | None] | None:
    try:
        named = URLSafeSerializer(secret_key, salt="unsubscribe").loads(token)
        app_id, user_key, *rest = named
    except (BadSignature, ValueError, TypeError):
        return None
    return str(app_id), str(user_key), (str(rest[0]) if rest else None)


def tracking_token(secret_key: str, message_id: str, user_key: str, url: str | None) -> str:
    """Names one user's copy of an email (and, for a click, the address it leads to), signed
    so that nobody can count opens for others or turn Parley into an open redirect."""
    named = [message_id, user_key] + ([url] if url is not None else [])
    return str(URLSafeSerializer(secret_key, salt="track").dumps(named))


def read_tracking_token(secret_key: str, token: str) -> tuple[str, str, str | None] | None:
    try:
        message_id, user_key, *rest = URLSafeSerializer(secret_key, salt="track").loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return str(message_id), str(user_key), (str(rest[0]) if rest else None)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def reply_token(secret_key: str, conversation_id: str, who: str) -> str:
    """`<conversation>.<who>.<mac>`, short enough for an address's local part (64 octets)
    and unguessable: only the people an email went to can reply into the conversation."""
    mac = hmac.new(
        secret_key.encode(), f"reply/{conversation_id}/{who}".encode(), hashlib.sha256
    ).digest()[:8]
    return f"{_b32(bytes.fromhex(conversation_id))}.{who}.{_b32(mac)}"


REPLY_TOKEN = re.compile(r"([a-z2-7]{26})\.(u|a[0-9a-z_-]{1,24})\.([a-z2-7]{13})", re.IGNORECASE)


def read_reply_tokens(secret_key: str, text: str) -> list[tuple[str, str]]:
    """Every genuine (conversation id, who) named in an address or in Message-IDs, in order;
    forged or damaged tokens are left out."""
    found = []
    for match in REPLY_TOKEN.finditer(text):
        coded, who, _mac = match.groups()
        try:
            conversation_id = base64.b32decode(coded.upper() + "======").hex()
        except ValueError:
            continue
        expected = reply_token(secret_key, conversation_id, who.lower())
        if hmac.compare_digest(expected, match.group(0).lower()):
            found.append((conversation_id, who.lower()))
    return found


def file_token(secret_key: str, app_id: str, sha256: str) -> str:
    """An attachment's link needs no login and cannot be made for another app's files."""
    return str(URLSafeSerializer(secret_key, salt="file").dumps([app_id, sha256]))


def read_file_token(secret_key: str, token: str) -> tuple[str, str] | None:
    try:
        app_id, sha256 = URLSafeSerializer(secret_key, salt="file").loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return str(app_id), str(sha256)


INVITATION_DAYS = 7


def invitation_token(secret_key: str, email: str, generation: int, issued_at: int) -> str:
    """The link that lets an invited teammate set their first password: it names their
    account as it stood (its password generation, so that it works once: setting the
    password starts the next) and when it was made (it lasts `INVITATION_DAYS`)."""
    named = [email, generation, issued_at]
    return str(URLSafeSerializer(secret_key, salt="invitation").dumps(named))


def read_invitation_token(secret_key: str, token: str, now: int) -> tuple[str, int] | None:
    """(email, generation) of a genuine invitation link not yet expired at `now`, else None."""
    try:
        email, generation, issued_at = URLSafeSerializer(secret_key, salt="invitation").loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(generation, int) or not isinstance(issued_at, int):
        return None
    if not 0 <= now - issued_at <= INVITATION_DAYS * 86400:
        return None
    return str(email), generation
