"""What the widget reports of an in-app message: the user saw it (a view), or followed one of
its links (a click); recorded only on the user the snippet names, in secure mode signed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commands.apps import check_snippet_user
from commands.clock import Clock
from commands.store import Parley
from commands.users import find_named_user
from domain.user import User


@dataclass(frozen=True)
class View:
    """The widget displayed an in-app message (`POST /widget/views`)."""

    app_id: str
    message_id: str
    user_id: str | None = None
    email: str | None = None
    user_hash: str | None = None


def record_view(cmd: View, store: Parley, clock: Clock) -> User:
    """The widget displayed a message: recorded if the user was shown it; the user."""
    return _on_user(cmd, store, lambda user: user.view_auto_message(cmd.message_id, clock.now()))


@dataclass(frozen=True)
class Click(View):
    """A link in an in-app message was followed (`POST /widget/clicks`)."""

    url: str = ""


def record_click(cmd: Click, store: Parley, clock: Clock) -> User:
    """Recorded if the user was shown the message; every click, the first counted."""
    return _on_user(
        cmd, store, lambda user: user.click_message(cmd.message_id, cmd.url, clock.now())
    )


def _on_user(cmd: View, store: Parley, change: Callable[[User], None]) -> User:
    check_snippet_user(store, cmd.app_id, cmd.user_id, cmd.email, cmd.user_hash)
    user = find_named_user(store, cmd.app_id, user_id=cmd.user_id, email=cmd.email)
    change(user)
    store.save_all(user)
    return user
