"""The team's dashboard (issue 14): server-rendered pages under /apps/<app_id>/..., signed-in
teammates only. Forms call the same command handlers as the REST API, through `handle`; what
follows a write is the reactions' (workers/reactions.py), never a view's.

`blueprint.py`: the blueprint, its security headers and CSRF check. `account.py`: signing in
and out, sessions, who may see which app. `users.py`: the user list; `profile.py`: a
user's profile.
"""

from __future__ import annotations

# Each module adds its pages to the blueprint when imported.
from web.dashboard import (
    account,  # noqa: F401
    activity,  # noqa: F401
    bulk,  # noqa: F401
    companies,  # noqa: F401
    composer,  # noqa: F401
    conversation,  # noqa: F401
    history,  # noqa: F401
    inbox,  # noqa: F401
    message,  # noqa: F401
    message_actions,  # noqa: F401
    message_list,  # noqa: F401
    profile,  # noqa: F401
    profile_actions,  # noqa: F401
    settings,  # noqa: F401
    stream,  # noqa: F401
    tags,  # noqa: F401
    users,  # noqa: F401
)
from web.dashboard.blueprint import dashboard

__all__ = ["dashboard"]
