"""Tagging: `POST /tags` creates or renames a tag and tags or untags users and companies."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.clock import Clock
from commands.errors import CompanyNotFound, TagNotFound
from commands.handling import handle
from commands.store import Parley
from commands.users import find_named_user
from domain.company import Company
from domain.errors import InvalidValue
from domain.identity import company_key
from domain.tags import Tags, tags_key
from domain.user import User

CHUNK = 500
T = TypeVar("T")


@dataclass(frozen=True)
class UserRef:
    """A user named by Parley id, user_id or email (the first given wins)."""

    id: str | None = None
    user_id: str | None = None
    email: str | None = None
    untag: bool = False


@dataclass(frozen=True)
class CompanyRef:
    id: str | None = None
    company_id: str | None = None
    untag: bool = False


@dataclass(frozen=True)
class SaveTag:
    app_id: str
    name: str
    id: str | None = None  # an existing tag to rename
    users: list[UserRef] = field(default_factory=list)
    companies: list[CompanyRef] = field(default_factory=list)
    by: str | None = None  # who tags: "api", or the teammate's admin id (the activity says)


@dataclass(frozen=True)
class SavedTag:
    id: str
    name: str
    position: int


def app_tags(store: Parley, app_id: str) -> Tags:
    return store.get_as(Tags, tags_key(app_id)) or Tags(app_id=app_id)


def live_tag(store: Parley, app_id: str, tag_id: str) -> Tags:
    tags = store.get_as(Tags, tags_key(app_id))
    if tags is None or tag_id not in tags.names:
        raise TagNotFound(f"tag {tag_id!r}")
    return tags


def save_tag(cmd: SaveTag, store: Parley, clock: Clock) -> SavedTag:
    """Create the tag if its name is new (or rename it by id), then apply every change at
    once: all of it is saved in one transaction, or nothing is when a reference is wrong."""

    tags = app_tags(store, cmd.app_id)
    tag_id = _tag_for(tags, cmd, clock)
    changed: list[Aggregate] = [tags]
    targets: list[tuple[User | Company, bool]] = [
        (
            find_named_user(store, cmd.app_id, id=ref.id, user_id=ref.user_id, email=ref.email),
            ref.untag,
        )
        for ref in cmd.users
    ]
    targets += [(find_company_ref(store, cmd.app_id, ref), ref.untag) for ref in cmd.companies]
    for target, untag in targets:
        if isinstance(target, User):
            (target.untag if untag else target.tag)(tag_id, by=cmd.by)
        elif untag:
            target.untag(tag_id)
        else:
            target.tag(tag_id)
        changed.append(target)
    return SavedTag(tag_id, tags.names[tag_id], store.save_all(*changed))


def _tag_for(tags: Tags, cmd: SaveTag, clock: Clock) -> str:
    name = cmd.name.strip()
    if not name:
        raise InvalidValue("name", "a tag needs a name")
    holder = tags.named(name)
    if cmd.id is None:
        return holder or tags.create(name, clock.now())
    if cmd.id not in tags.names:
        raise TagNotFound(f"tag {cmd.id!r}")
    if holder is not None and holder != cmd.id:
        raise InvalidValue("name", f"another tag is already named {name!r}")
    if tags.names[cmd.id] != name:
        tags.rename(cmd.id, name)
    return cmd.id


def find_company_ref(store: Parley, app_id: str, ref: CompanyRef) -> Company:
    if ref.id is not None:
        try:
            key = UUID(hex=ref.id)
        except ValueError:
            raise CompanyNotFound(f"id {ref.id!r}") from None
    elif ref.company_id is not None:
        key = company_key(app_id, ref.company_id)
    else:
        raise InvalidValue("companies", "each company needs an id or company_id")
    company = store.get_as(Company, key)
    if company is None or company.app_id != app_id or company.deleted:
        raise CompanyNotFound(ref.id or ref.company_id or "")
    return company


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterable[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass(frozen=True)
class ChangeChunk:
    """One chunk of a change to many users or companies (ids absent are left out)."""

    kind: type[User] | type[Company]
    ids: list[str]
    change: Callable[[Any], None]


def change_chunk(cmd: ChangeChunk, store: Parley, clock: Clock) -> int:
    loaded = [store.get_as(cmd.kind, UUID(hex=i)) for i in cmd.ids]
    present = [a for a in loaded if a is not None]
    for aggregate in present:
        cmd.change(aggregate)
    return store.save_all(*present)


def change_many(
    store: Parley,
    clock: Clock,
    kind: type[User] | type[Company],
    ids: Sequence[str],
    change: Callable[[Any], None],
) -> int:
    """Apply `change` to many aggregates, saved CHUNK at a time (each a command of its own);
    return the last position."""
    position = 0
    for chunk in chunks(ids):
        position = max(
            position, handle(change_chunk, ChangeChunk(kind, chunk, change), store, clock)
        )
    return position


@dataclass(frozen=True)
class TagUsers:
    """Tag many users (say, everyone a filter matches), CHUNK per transaction."""

    app_id: str
    tag_id: str
    user_ids: Sequence[str]
    by: str | None = None  # "api", or the teammate's admin id


def tag_users(cmd: TagUsers, store: Parley, clock: Clock) -> int:
    """Several transactions: called directly, not through `handle`."""
    return _retag(cmd, store, clock, untag=False)


def untag_users(cmd: TagUsers, store: Parley, clock: Clock) -> int:
    """The tag comes off these users. Several transactions: called directly."""
    return _retag(cmd, store, clock, untag=True)


def _retag(cmd: TagUsers, store: Parley, clock: Clock, untag: bool) -> int:
    live_tag(store, cmd.app_id, cmd.tag_id)
    app_id, tag_id, by = cmd.app_id, cmd.tag_id, cmd.by

    def change(user: User) -> None:
        if user.app_id == app_id:
            (user.untag if untag else user.tag)(tag_id, by)

    return change_many(store, clock, User, cmd.user_ids, change)


@dataclass(frozen=True)
class DeleteTag:
    """The tag goes at once (filters and payloads stop showing it), then comes off everyone
    who had it, so their histories say so too."""

    app_id: str
    tag_id: str
    user_ids: Sequence[str]
    company_ids: Sequence[str]


def drop_tag(cmd: DeleteTag, store: Parley, clock: Clock) -> int:
    tags = live_tag(store, cmd.app_id, cmd.tag_id)
    tags.delete(cmd.tag_id, clock.now())
    return store.save_all(tags)


def delete_tag(cmd: DeleteTag, store: Parley, clock: Clock) -> int:
    """Several transactions: called directly, not through `handle`."""
    tag_id = cmd.tag_id
    position = handle(drop_tag, cmd, store, clock)
    users = change_many(store, clock, User, cmd.user_ids, lambda u: u.untag(tag_id))
    companies = change_many(store, clock, Company, cmd.company_ids, lambda c: c.untag(tag_id))
    return max(position, users, companies)
