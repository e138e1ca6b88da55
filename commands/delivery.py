"""Sending one email of a message to one user, at most once (see domain/delivery.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from commands.clock import Clock
from commands.email import Mailing, Sender, build_email, thread_for, tracking_for
from commands.handling import handle
from commands.mail import MailRefused, Transport
from commands.store import Parley
from commands.tokens import unsubscribe_token
from domain.company import Company
from domain.content import compile_body, user_variables
from domain.conversations import conversation_for, emailed_conversation_id
from domain.delivery import SENDING, SENT, UNCERTAIN, Delivery, delivery_key
from domain.messages import Message
from domain.user import User

Compose = Callable[[Message, User, int], EmailMessage]


class DeliveryDeferred(Exception):
    """The mail server refused and nothing was sent: try again later (with backoff)."""


def deliver_email(
    message_id: str,
    user_key: str,
    *,
    bulk: bool,
    store: Parley,
    clock: Clock,
    transport: Transport,
    compose: Compose,
) -> str:
    """Send the message's current version to the user unless it was sent (or may have been)
    already; return the delivery's state, or why nothing was done."""
    message = store.get_as(Message, UUID(hex=message_id))
    user = store.get_as(User, UUID(hex=user_key))
    if message is None:
        return "no such message"
    refusal = _refusal(user, bulk)
    if refusal is not None:
        claimed = store.get_as(Delivery, delivery_key(message_id, user_key, "email"))
        if claimed is not None and claimed.may_send:  # nobody is to try it again
            claimed.skip(refusal, clock.now())
            store.save_all(claimed)
        return refusal
    assert user is not None
    delivery = _claim(store, message_id, user_key, len(message.versions) - 1, clock)
    if delivery is None or not delivery.may_send:
        if delivery is not None and delivery.state == SENDING:
            delivery.uncertain(clock.now())  # its sender died mid-send: never twice
            store.save_all(delivery)
            return UNCERTAIN
        return delivery.state if delivery is not None else "claimed elsewhere"
    delivery.sending(clock.now())
    try:
        store.save_all(delivery)
    except IntegrityError:
        return "claimed elsewhere"
    email = compose(message, user, delivery.content_version)
    try:
        transport.send(email)
    except MailRefused as refused:
        reason = str(refused)
        handle(
            _record, Outcome(delivery.id, lambda d: d.deferred(reason, clock.now())), store, clock
        )
        raise DeliveryDeferred(reason) from refused
    handle(_record, Outcome(delivery.id, lambda d: d.sent(clock.now())), store, clock)
    handle(_reached, Reached(message, user.id, delivery.content_version), store, clock)
    return SENT


def _refusal(user: User | None, bulk: bool) -> str | None:
    if user is None or user.deleted:
        return "no such user"
    if not user.email:
        return "no email address"
    if bulk and user.unsubscribed_from_emails:
        return "unsubscribed"
    return None


CLAIMS_PER_SAVE = 500


def claim_emails(store: Parley, message: Message, user_keys: list[str], clock: Clock) -> int:
    """Record that the message's email goes to each of these users (a claim each, saved a few
    hundred at a time); the reactions queue each send (workers/reactions.py) and the sweep
    sends again any claim left waiting. Users claimed before are left out; returns how many
    were claimed now."""
    version = len(message.versions) - 1

    def claim(key: str) -> Delivery:
        return Delivery(
            message_id=message.message_id,
            user_key=key,
            channel="email",
            content_version=version,
            at=clock.now(),
            queued=True,
        )

    claimed = 0
    for start in range(0, len(user_keys), CLAIMS_PER_SAVE):
        chunk = user_keys[start : start + CLAIMS_PER_SAVE]
        try:
            store.save_all(*(claim(key) for key in chunk))
            claimed += len(chunk)
        except IntegrityError:  # some were claimed before: claim the others one by one
            for key in chunk:
                try:
                    store.save_all(claim(key))
                    claimed += 1
                except IntegrityError:
                    pass
    return claimed


@dataclass(frozen=True)
class Reached:
    """A sent email reached the user (`version` of the message's content)."""

    message: Message
    user_key: UUID
    version: int


def _reached(cmd: Reached, store: Parley, clock: Clock) -> None:
    """The email is in the user's inbox too, as a conversation they can reply to; a manual
    one adds to the relationship score (seed)."""
    message = cmd.message
    written = message.versions[cmd.version]
    user = store.get_as(User, cmd.user_key)
    if user is None:
        return
    now = clock.now()
    body = compile_body(written["body"], written["markup"], None)
    shown = body.render(values_for(store, user))[0]
    conversation = conversation_for(message, user, shown, now, by_email=True)
    if store.find(conversation.id) is not None:
        return  # opened already
    if message.kind == "manual":
        user.message_sent(now)
    store.save_all(conversation, user)


def values_for(store: Parley, user: User) -> dict[str, object]:
    """What a message's variables show of this user (their first company's name included)."""
    first = store.get_as(Company, UUID(hex=user.companies[0])) if user.companies else None
    return user_variables(user, first.name if first is not None else None)


def _claim(
    store: Parley, message_id: str, user_key: str, version: int, clock: Clock
) -> Delivery | None:
    key = delivery_key(message_id, user_key, "email")
    found = store.get_as(Delivery, key)
    if found is not None:
        return found
    claim = Delivery(
        message_id=message_id,
        user_key=user_key,
        channel="email",
        content_version=version,
        at=clock.now(),
    )
    try:
        store.save_all(claim)
    except IntegrityError:
        return None  # another worker claimed it a moment ago
    return claim


@dataclass(frozen=True)
class Outcome:
    """What became of one send, recorded on its delivery."""

    delivery: UUID
    change: Callable[[Delivery], None]


def _record(cmd: Outcome, store: Parley, clock: Clock) -> None:
    delivery = store.get_as(Delivery, cmd.delivery)
    assert delivery is not None
    cmd.change(delivery)
    store.save_all(delivery)


@dataclass(frozen=True)
class Engagement:
    """The user's copy of an email was opened (its image fetched; `url` None) or one of its
    links followed."""

    message_id: str
    user_key: str
    url: str | None = None


def record_engagement(cmd: Engagement, store: Parley, clock: Clock) -> bool:
    """Recorded on the user's copy of the email; False: no such copy."""
    delivery = store.get_as(Delivery, delivery_key(cmd.message_id, cmd.user_key, "email"))
    if delivery is None:
        return False
    if cmd.url is None:
        delivery.open(clock.now())
    else:
        delivery.click(cmd.url, clock.now())
    store.save_all(delivery)
    return True


def email_composer(store: Parley, mailing: Mailing, sender: Callable[[Message], Sender]) -> Compose:
    """Build a user's email for a message version: their values in the variables, the
    app's unsubscribe link where the message asks for one (by default on bulk, filter or
    all-users, messages), a Reply-To address that
    threads the user's reply into the conversation the email opens."""
    secret_key, base_url = mailing.secret_key, mailing.base_url

    def compose(message: Message, user: User, version: int) -> EmailMessage:
        written = message.versions[version]
        values = values_for(store, user)
        body = compile_body(written["body"], written["markup"], None)
        subject = compile_body(written["subject"] or "", "markdown", None)
        link = None
        if message.with_unsubscribe_link:  # as the teammate chose; else bulk ones
            token = unsubscribe_token(secret_key, message.app_id, user.id.hex, message.message_id)
            link = f"{base_url.rstrip('/')}/unsubscribe/{token}"
        return build_email(
            body,
            values,
            subject=subject.render(values)[1],
            style=written["style"] or "personal",
            sender=sender(message),
            to=user.email or "",
            unsubscribe_url=link,
            tracking=tracking_for(secret_key, base_url, message.message_id, user.id.hex),
            thread=thread_for(
                secret_key,
                mailing.inbound_domain,
                message.app_id,
                emailed_conversation_id(message.message_id, user.id.hex),
                "u",
            ),
        )

    return compose
