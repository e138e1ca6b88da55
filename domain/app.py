"""The App: a customer's workspace, its keys, teammates and settings."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.identity import app_key

NOTIFICATIONS = ("all", "mine", "none")
INBOX_STYLES = ("none", "simple", "advanced")
DEFAULT_COLOUR = "#333333"
MAX_SELECTOR = 200
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# A selector goes to document.querySelectorAll on the customer's page: no markup, no newlines.
SELECTOR_REFUSED = re.compile(r"[<>{}\x00-\x1f\x7f]")
MAX_TEAMMATE = 255  # characters of a teammate's name, and of their email
EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\".]+")


def hash_api_key(api_key: str) -> str:
    """API keys are long random strings: a plain SHA-256 is enough to keep them unreadable."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def user_hash(secret: str, identifier: str) -> str:
    """Secure mode's HMAC-SHA256 over the user_id (else the email), as hex."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def check_teammate(email: str, name: str) -> None:
    """A teammate added from the dashboard: a name, and an address an invitation can go to
    (one @, a dotted domain, no spaces or markup)."""
    if not name.strip() or len(name) > MAX_TEAMMATE:
        raise InvalidValue("name", f"give a name of 1 to {MAX_TEAMMATE} characters")
    if len(email) > MAX_TEAMMATE or not EMAIL.fullmatch(email.strip()):
        raise InvalidValue("email", "give an email address like ann@example.com")


class App(Aggregate):
    @staticmethod
    def create_id(app_id: str) -> UUID:
        return app_key(app_id)

    @event("Created")
    def __init__(
        self, app_id: str, name: str, api_key_hash: str, secret: str, at: datetime
    ) -> None:
        self.app_id = app_id
        self.name = name
        self.api_key_hash = api_key_hash
        self.secret = secret
        self.created_at = at
        self.secure_mode = False
        self.default_assignee: str | None = None
        self.admins: dict[str, dict[str, str]] = {}
        # Removed teammates, still named by the notes, comments and assignments they made.
        self.former_admins: dict[str, dict[str, str]] = {}
        # Apps created before the setting existed replay this body too: they start at none.
        self.inbox_style = "none"
        self.inbox_colour = DEFAULT_COLOUR
        self.inbox_selector: str | None = None
        self.inbox_count = True

    def accepts_api_key(self, api_key: str) -> bool:
        return hmac.compare_digest(self.api_key_hash, hash_api_key(api_key))

    def accepts_user_hash(self, identifier: str, given: str | None) -> bool:
        """With secure mode off every ping is accepted; with it on, only a correct hash."""
        if not self.secure_mode:
            return True
        if not given:
            return False
        return hmac.compare_digest(user_hash(self.secret, identifier), given.strip().lower())

    @event("SecureModeChanged")
    def set_secure_mode(self, on: bool) -> None:
        self.secure_mode = on

    @event("ApiKeyRotated")
    def rotate_api_key(self, api_key_hash: str, by: str | None) -> None:
        """A new REST API key (its hash); the one before stops working."""
        self.api_key_hash = api_key_hash

    @event("AdminAdded")
    def add_admin(self, admin_id: str, email: str, name: str) -> None:
        self.admins[admin_id] = {"id": admin_id, "email": email, "name": name}

    def next_admin_id(self) -> str:
        """Ids are never given twice: a removed teammate's id still names their past work."""
        taken = [int(i) for i in (*self.admins, *self.former_admins) if i.isdigit()]
        return str(max(taken, default=0) + 1)

    def remove_admin(self, admin_id: str, by: str | None) -> None:
        """A teammate leaves the app (`by`: the teammate removing them); what they wrote and
        did stays, under their name. Nobody removes themselves, and an app keeps one."""
        if admin_id not in self.admins:
            raise InvalidValue("admin_id", f"no teammate {admin_id!r} in this app")
        if admin_id == by:
            raise InvalidValue("admin_id", "you cannot remove yourself")
        if len(self.admins) == 1:
            raise InvalidValue("admin_id", "an app keeps at least one teammate")
        self._admin_removed(admin_id, by)

    @event("AdminRemoved")
    def _admin_removed(self, admin_id: str, by: str | None) -> None:
        self.former_admins[admin_id] = self.admins.pop(admin_id)
        if self.default_assignee == admin_id:
            self.default_assignee = None  # new conversations are not handed to nobody

    def teammate(self, admin_id: str) -> dict[str, str] | None:
        """A teammate by id, removed ones too (for naming who wrote or did something)."""
        return self.admins.get(admin_id) or self.former_admins.get(admin_id)

    def set_notifications(self, admin_id: str, setting: str) -> None:
        """Seed: "Each user controls their own mail notifications": email on every user
        reply in the app (`all`), on replies in conversations assigned to or started by
        them (`mine`, the default), or `none`."""
        if admin_id not in self.admins:
            raise InvalidValue("id", f"no admin {admin_id!r} in this app")
        if setting not in NOTIFICATIONS:
            raise InvalidValue("notifications", f"expected one of {', '.join(NOTIFICATIONS)}")
        self._notifications_set(admin_id, setting)

    @event("NotificationsSet")
    def _notifications_set(self, admin_id: str, setting: str) -> None:
        self.admins[admin_id] = {**self.admins[admin_id], "notifications": setting}

    def assign_new_conversations_to(self, admin_id: str | None) -> None:
        """Seed: "choose a user who is assigned to handle all new conversations from users"
        (None: they stay unassigned)."""
        if admin_id is not None and admin_id not in self.admins:
            raise InvalidValue("admin_id", f"no admin {admin_id!r} in this app")
        self._default_assignee_set(admin_id)

    @event("DefaultAssigneeSet")
    def _default_assignee_set(self, admin_id: str | None) -> None:
        self.default_assignee = admin_id

    def set_inbox_style(
        self,
        style: str,
        colour: str | None = None,
        selector: str | None = None,
        count: bool = True,
    ) -> None:
        """Seed "Adding an Inbox": nothing visual (`none`, the default); `simple`, a question
        mark button in the corner in `colour`, with an unread badge; `advanced`, the customer's
        own link(s) matching `selector` open the inbox, with the unread count when `count`."""
        if style not in INBOX_STYLES:
            raise InvalidValue("style", f"expected one of {', '.join(INBOX_STYLES)}")
        if colour is not None and not COLOUR.fullmatch(colour):
            raise InvalidValue("colour", "expected a colour as #rgb or #rrggbb")
        if style == "advanced":
            selector = (selector or "").strip()
            if not selector:
                raise InvalidValue("selector", "the advanced inbox needs a CSS selector")
            if len(selector) > MAX_SELECTOR or SELECTOR_REFUSED.search(selector):
                raise InvalidValue(
                    "selector",
                    f"expected a CSS selector of at most {MAX_SELECTOR} characters "
                    "without < > { } or control characters",
                )
        elif selector is not None:
            raise InvalidValue("selector", "only the advanced inbox uses a selector")
        elif not count:
            raise InvalidValue("count", "only the advanced inbox can leave out the unread count")
        self._inbox_style_set(
            style=style,
            colour=(colour or self.inbox_colour).lower(),
            selector=selector,
            count=count,
        )

    @event("InboxStyleSet")
    def _inbox_style_set(self, style: str, colour: str, selector: str | None, count: bool) -> None:
        self.inbox_style = style
        self.inbox_colour = colour
        self.inbox_selector = selector
        self.inbox_count = count

    def inbox(self) -> dict[str, str | bool | None]:
        """The inbox setting as the widget reads it."""
        return {
            "style": self.inbox_style,
            "colour": self.inbox_colour,
            "selector": self.inbox_selector,
            "count": self.inbox_count,
        }

    def admin_with_email(self, email: str) -> dict[str, str] | None:
        wanted = email.strip().lower()
        return next((a for a in self.admins.values() if a["email"].lower() == wanted), None)
