"""Commands that learn about users: snippet pings and the REST API's create-or-update."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.apps import check_snippet_user, recent_app
from commands.auto_messages import due_in_app, showable, waiting_in_app
from commands.clock import Clock
from commands.errors import CompanyNotFound, UserNotFound
from commands.store import Parley
from domain.company import Company
from domain.delivery import Delivery, delivery_key
from domain.errors import InvalidValue, MissingUserIdentifier
from domain.identity import company_key, email_key, user_id_key
from domain.messages import Message
from domain.showing import Shown, show_on_page_view, unseen_popups
from domain.user import Alias, User
from domain.values import CustomValue

Place = tuple[str | None, str | None]
Locate = Callable[[str | None], Place]


def nowhere(_ip: str | None) -> Place:
    return (None, None)


@dataclass(frozen=True)
class CompanyInput:
    company_id: str  # "" when only Parley's `id` names it (resolve_company)
    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, CustomValue] = field(default_factory=dict)
    remove: bool = False
    id: str | None = None  # Parley's id of an existing company


def resolve_company(store: Parley, app_id: str, given: CompanyInput) -> CompanyInput:
    """A company named by Parley's `id` (as the Intercom 1.x clients send it when saving one
    they found) gets its `company_id`; given both, they must name the same company."""
    if given.id is None:
        return given
    try:
        company = store.get_as(Company, UUID(hex=given.id))
    except ValueError:
        company = None
    if company is None or company.app_id != app_id or company.deleted:
        raise CompanyNotFound(f"id {given.id!r}")
    if given.company_id and given.company_id != company.company_id:
        raise InvalidValue("id", "names another company than company_id")
    return replace(given, company_id=company.company_id)


@dataclass(frozen=True)
class UserInput:
    user_id: str | None = None
    email: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, CustomValue] = field(default_factory=dict)
    unsubscribed: bool | None = None
    companies: list[CompanyInput] = field(default_factory=list)


@dataclass(frozen=True)
class Ping:
    """A boot or update from the snippet: who the user is and which page they see."""

    app_id: str
    user: UserInput
    user_hash: str | None = None
    url: str | None = None
    referrer: str | None = None
    timezone: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class SaveUser:
    """`POST /users`: create or update, optionally recording a request or a new session."""

    app_id: str
    user: UserInput
    id: str | None = None
    last_request_at: int | None = None
    update_last_request_at: bool = False
    new_session: bool = False
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Saved:
    """What a command changed: the user as it now stands and the log position written."""

    user: User
    position: int
    messages: tuple[Message, ...] = ()  # auto messages this page view shows, first time each
    # What the widget is to display, in order: popups unseen on earlier page views, then these.
    shown: tuple[Shown, ...] = ()


def resolve_user(
    store: Parley, app_id: str, user_id: str | None, email: str | None, at: datetime
) -> tuple[User, list[Aggregate]]:
    """Find or start the user these identifiers name, with any aliases to save alongside.

    user_id wins over email; an email-only user who later arrives with a user_id keeps
    their record; a new user with both is also findable by email.
    """
    if user_id is None and email is None:
        raise MissingUserIdentifier()
    if user_id is not None:
        key = user_id_key(app_id, user_id)
        by_email_key = email_key(app_id, email) if email else None
        # Known users are usually cached; a new user_id usually comes with a new email:
        # otherwise one query says which of the two keys were ever used before any load.
        keys = [k for k in (key, by_email_key) if k is not None]
        used = set(keys) if store.cached(key) else store.recorded_among(*keys)
        user = _follow(store, key) if key in used else None
        if user is not None:
            return user, []
        by_email = _follow(store, by_email_key) if by_email_key in used else None
        if by_email is not None and by_email.user_id is None and not by_email.deleted:
            by_email.update({"user_id": user_id}, {})
            return by_email, [Alias(key=key, user=by_email.id)]
        user = User(app_id=app_id, user_id=user_id, email=email, at=at)
        extra: list[Aggregate] = []
        if by_email_key is not None and by_email is None:
            extra.append(Alias(key=by_email_key, user=user.id))
        return user, extra
    assert email is not None
    user = _follow(store, email_key(app_id, email))
    if user is None:
        user = User(app_id=app_id, user_id=None, email=email, at=at)
    return user, []


def _follow(store: Parley, key: UUID) -> User | None:
    found = store.find(key)
    if isinstance(found, Alias):
        found = store.find(found.user)
    return found if isinstance(found, User) else None


def apply_user_input(
    store: Parley, user: User, given: UserInput, by: str, at: datetime, claim_email: bool = True
) -> list[Aggregate]:
    """Set attributes, custom data, unsubscribe and companies; return other changed aggregates.
    Without `claim_email` a new email is kept but does not make the user findable by it."""
    if user.deleted:
        user.restore(app_id=user.app_id, at=at, user_id=given.user_id, email=given.email)
    changed: list[Aggregate] = []
    attributes = dict(given.attributes)
    if given.email is not None:
        attributes["email"] = given.email
        # A new email, or a first one for a user known so far by user_id only: either way
        # the user is found by it from now on (unless another user already holds it).
        if user.email is None or user.email.lower() != given.email.lower():
            key = email_key(user.app_id, given.email)
            if claim_email and store.find(key) is None:
                changed.append(Alias(key=key, user=user.id))
    user.update(attributes, given.custom, by=by)
    if given.unsubscribed is not None:
        user.set_unsubscribed(given.unsubscribed, by=by)
    for named in given.companies:
        company_input = resolve_company(store, user.app_id, named)
        company = _save_company(store, user.app_id, company_input, at)
        if company is not None:
            changed.append(company)
        member_of = company_key(user.app_id, company_input.company_id).hex
        if company_input.remove:
            user.leave_company(member_of, by=by)
        else:
            user.join_company(member_of, by=by)
    return changed


def _save_company(store: Parley, app_id: str, given: CompanyInput, at: datetime) -> Company | None:
    company = store.get_as(Company, company_key(app_id, given.company_id))
    if company is None or company.deleted:
        if given.remove:
            return None
        if company is None:
            company = Company(app_id=app_id, company_id=given.company_id, at=at)
        else:
            company.restore(at=at)
    company.update(given.attributes, given.custom)
    return company


def record_ping(cmd: Ping, store: Parley, clock: Clock, locate: Locate = nowhere) -> Saved:
    """Snippet boot/update: identify, update, record an impression; refuse a bad user_hash.

    In secure mode the hash signs the user_id when there is one, not the email sent beside
    it: such an email is kept but never used to find, adopt or claim a user (whoever could
    edit the page's settings would otherwise take over that address's conversations)."""
    check_snippet_user(store, cmd.app_id, cmd.user.user_id, cmd.user.email, cmd.user_hash)
    signed_email = cmd.user.user_id is None or not recent_app(store, cmd.app_id).secure_mode
    place = locate(cmd.ip)
    now = clock.now()
    by_email = cmd.user.email if signed_email else None
    user, aliases = resolve_user(store, cmd.app_id, cmd.user.user_id, by_email, now)
    others = apply_user_input(store, user, cmd.user, by="snippet", at=now, claim_email=signed_email)
    user.record_page_view(now, cmd.url, cmd.referrer, cmd.ip, cmd.user_agent, cmd.timezone, place)
    unseen = unseen_popups(user, _messages(store, user.popups_unseen), showable, now)
    due = waiting_in_app(store, user, now) + due_in_app(store, user, cmd.url, now)
    # Each shown message reached the user's inbox too, as a conversation they can reply to.
    shown, opened = show_on_page_view(user, due, showable, now)
    position = store.save_all(user, *aliases, *others, *opened)
    return Saved(user, position, tuple(s.message for s in shown), tuple(unseen + shown))


def _messages(store: Parley, message_ids: Iterable[str]) -> dict[str, Message | None]:
    return {i: store.recent(Message, UUID(hex=i)) for i in message_ids}


def save_user(cmd: SaveUser, store: Parley, clock: Clock, locate: Locate = nowhere) -> Saved:
    """REST create-or-update by id, user_id or email."""
    user, others = saving_user(cmd, store, clock.now(), locate)
    return Saved(user, store.save_all(user, *others))


def saving_user(
    cmd: SaveUser, store: Parley, now: datetime, locate: Locate = nowhere
) -> tuple[User, list[Aggregate]]:
    """What `save_user` changes, not yet saved: the user, and the aliases and companies that
    go with it (a bulk import saves a chunk's together)."""
    if cmd.id is not None:
        user = _by_public_id(store, cmd.app_id, cmd.id)
        aliases: list[Aggregate] = []
    else:
        user, aliases = resolve_user(store, cmd.app_id, cmd.user.user_id, cmd.user.email, now)
    others = apply_user_input(store, user, cmd.user, by="api", at=now)
    if cmd.last_request_at is not None or cmd.update_last_request_at or cmd.new_session:
        at = (
            datetime.fromtimestamp(cmd.last_request_at, UTC)
            if cmd.last_request_at is not None
            else now
        )
        user.record_request(at, cmd.new_session, cmd.ip, cmd.user_agent, locate(cmd.ip))
    elif cmd.ip is not None or cmd.user_agent is not None:
        user.record_request(now, False, cmd.ip, cmd.user_agent, locate(cmd.ip))
    return user, [*aliases, *others]


def _by_public_id(store: Parley, app_id: str, public_id: str) -> User:
    try:
        key = UUID(hex=public_id)
    except ValueError:
        raise UserNotFound(f"id {public_id!r}") from None
    user = store.get_as(User, key)
    if user is None or user.app_id != app_id or user.deleted:
        raise UserNotFound(f"id {public_id!r}")
    return user


@dataclass(frozen=True)
class DeleteUser:
    """Remove a user from the app; the history stays in the event store."""

    app_id: str
    id: str  # the user's Parley id


def delete_user(cmd: DeleteUser, store: Parley, clock: Clock) -> Saved:
    user = _by_public_id(store, cmd.app_id, cmd.id)
    user.delete(at=clock.now())
    return Saved(user, store.save_all(user))


def find_named_user(
    store: Parley,
    app_id: str,
    *,
    id: str | None = None,
    user_id: str | None = None,
    email: str | None = None,
) -> User:
    """An existing user named by Parley id, user_id or email (the first given wins)."""
    if id is not None:
        return _by_public_id(store, app_id, id)
    if user_id is not None:
        found = _follow(store, user_id_key(app_id, user_id))
    elif email is not None:
        found = _follow(store, email_key(app_id, email))
    else:
        raise MissingUserIdentifier("an id, a user_id or an email is required")
    if found is None or found.app_id != app_id or found.deleted:
        raise UserNotFound(f"user_id {user_id!r}" if user_id is not None else f"email {email!r}")
    return found


@dataclass(frozen=True)
class MessageExchanged:
    """A teammate's manual message reached the user, or the user wrote to the team (what a
    relationship score counts; messages and conversations record it themselves)."""

    app_id: str
    user_id: str
    at: datetime


def record_message_sent(cmd: MessageExchanged, store: Parley, clock: Clock) -> int:
    user = find_named_user(store, cmd.app_id, user_id=cmd.user_id)
    user.message_sent(cmd.at)
    return store.save_all(user)


def record_message_received(cmd: MessageExchanged, store: Parley, clock: Clock) -> int:
    user = find_named_user(store, cmd.app_id, user_id=cmd.user_id)
    user.message_received(cmd.at)
    return store.save_all(user)


@dataclass(frozen=True)
class UnsubscribeByLink:
    """The user clicked an email's unsubscribe link (the snippet's own value still wins);
    the email it came in (`message_id`) records it too, for that message's stats."""

    app_id: str
    id: str  # the user's Parley id
    message_id: str | None = None


def unsubscribe_by_link(cmd: UnsubscribeByLink, store: Parley, clock: Clock) -> int:
    user = _by_public_id(store, cmd.app_id, cmd.id)
    user.set_unsubscribed(True, by="link")
    came_in = None
    if cmd.message_id is not None:
        came_in = store.get_as(Delivery, delivery_key(cmd.message_id, user.id.hex, "email"))
        if came_in is not None:
            came_in.unsubscribe(clock.now())
    return store.save_all(user, came_in)
