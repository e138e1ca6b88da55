"""What teammates do to users from the dashboard: delete many at once (the selected ones, or
everyone a filter matches), and unsubscribe or resubscribe one from bulk email.

Many users are changed CHUNK at a time (commands/tags.change_many), each chunk a command of
its own; a user of another app among the ids is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commands.clock import Clock
from commands.store import Parley
from commands.tags import change_many
from commands.users import find_named_user
from domain.user import User


@dataclass(frozen=True)
class DeleteUsers:
    app_id: str
    user_ids: Sequence[str]  # Parley ids


def delete_users(cmd: DeleteUsers, store: Parley, clock: Clock) -> int:
    """Several transactions: called directly, not through `handle`."""
    app_id, at = cmd.app_id, clock.now()

    def delete(user: User) -> None:
        if user.app_id == app_id and not user.deleted:
            user.delete(at=at)

    return change_many(store, clock, User, cmd.user_ids, delete)


@dataclass(frozen=True)
class SetUnsubscribed:
    """A teammate unsubscribes a user from bulk email, or subscribes them again (the
    snippet's own `unsubscribed_from_emails` still counts: either one keeps emails away)."""

    app_id: str
    id: str  # the user's Parley id
    unsubscribed: bool


def set_unsubscribed(cmd: SetUnsubscribed, store: Parley, clock: Clock) -> int:
    user = find_named_user(store, cmd.app_id, id=cmd.id)
    user.set_unsubscribed(cmd.unsubscribed, by="admin")
    return store.save_all(user)
