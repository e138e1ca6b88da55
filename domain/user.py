"""A user of a customer's product: identity, attributes, sessions and impressions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import MissingUserIdentifier
from domain.identity import email_key, user_id_key
from domain.values import CustomValue, changes, traffic_source

SESSION_TIMEOUT = timedelta(minutes=30)
STANDARD = ("email", "name", "user_id", "signed_up_at")


def count_occurrence(stats: dict[str, Any], at: int) -> None:
    """One more occurrence of a tracked event at `at`: how often, first and last time."""
    stats["count"] = stats.get("count", 0) + 1
    stats["first_at"] = min(stats.get("first_at", at), at)
    stats["last_at"] = max(stats.get("last_at", at), at)


def effective_unsubscribe(by_snippet: bool | None, manually: bool) -> bool:
    """The snippet's value, once sent, overrides manual and link unsubscribes (seed)."""
    return by_snippet if by_snippet is not None else manually


class User(Aggregate):
    # Version 2 added tags, 3 tracked events, 4 message times, 5 auto messages shown, 6 manual
    # in-app messages waiting for the next visit and messages clicked, 7 messages that could
    # not be shown, 8 popups not yet displayed: older snapshots are upcast.
    class_version = 8

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["tags"] = []

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["events"] = {}

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        state["last_message_sent_at"] = None
        state["last_message_received_at"] = None

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        state["auto_messages_shown"] = []

    @staticmethod
    def upcast_v5_v6(state: dict[str, Any]) -> None:
        state["messages_waiting"] = []
        state["messages_clicked"] = []

    @staticmethod
    def upcast_v6_v7(state: dict[str, Any]) -> None:
        state["messages_not_shown"] = []

    @staticmethod
    def upcast_v7_v8(state: dict[str, Any]) -> None:
        state["popups_unseen"] = {}

    @staticmethod
    def create_id(app_id: str, user_id: str | None, email: str | None) -> UUID:
        """A user is keyed by user_id when it has one, else by email."""
        if user_id is not None:
            return user_id_key(app_id, user_id)
        if email is not None:
            return email_key(app_id, email)
        raise MissingUserIdentifier()

    class Seen(Aggregate.Event):
        """A page view (impression) or an API request showing the user is active.

        Version 1 (the first prototype) stored the raw `referrer` URL; version 2 stores the
        traffic `source` it implies and where the sighting came from (`via`).
        """

        class_version = 2
        at: datetime
        url: str | None
        source: str | None
        ip: str | None
        user_agent: str | None
        timezone: str | None
        city: str | None
        country: str | None
        new_session: bool
        via: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["source"] = traffic_source(state.get("url"), state.pop("referrer", None))
            state["via"] = "widget"

        def apply(self, aggregate: Any) -> None:
            aggregate.apply_seen(self)

    @event("Created")
    def __init__(self, app_id: str, user_id: str | None, email: str | None, at: datetime) -> None:
        self.app_id = app_id
        self.user_id = user_id
        self.email = email
        self.created_at = at
        self.deleted = False
        self._reset()

    def _reset(self) -> None:
        self.name: str | None = None
        self.signed_up_at: int | None = None
        self.custom: dict[str, CustomValue] = {}
        self.companies: list[str] = []
        self.tags: list[str] = []
        # Per tracked event name: how often, first and last time (seconds since the epoch).
        self.events: dict[str, dict[str, int]] = {}
        # Personal contact, for the relationship score (seconds since the epoch).
        self.last_message_sent_at: int | None = None
        self.last_message_received_at: int | None = None
        self.auto_messages_shown: list[str] = []  # in-app messages shown: each goes out once
        self.messages_waiting: list[str] = []  # manual in-app messages for the next visit
        self.messages_clicked: list[str] = []  # in-app messages with a link followed
        self.messages_not_shown: list[str] = []  # in-app messages that showed this user nothing
        # Popups that went out but the widget has not displayed yet (it shows one at a time):
        # message id -> the conversation it opened; offered again on the next page view.
        self.popups_unseen: dict[str, str] = {}
        self.last_seen_at: datetime | None = None
        self.last_request_at: datetime | None = None
        self.session_count = 0
        self.session_source: str | None = None
        self.last_seen_ip: str | None = None
        self.user_agent: str | None = None
        self.timezone: str | None = None
        self.city: str | None = None
        self.country: str | None = None
        self.last_url: str | None = None
        self.impressions = 0
        self.snippet_unsubscribed: bool | None = None
        self.manual_unsubscribed = False

    @property
    def unsubscribed_from_emails(self) -> bool:
        return effective_unsubscribe(self.snippet_unsubscribed, self.manual_unsubscribed)

    # -- attributes -------------------------------------------------------------------

    def update(
        self, attributes: dict[str, Any], custom: dict[str, CustomValue], by: str | None = None
    ) -> None:
        """Change standard and custom attributes; unchanged values record nothing. `by` is
        where the values came from (snippet, api, email), for the user's activity; events
        recorded before it was kept have none."""
        found = changes(self, attributes, self.custom, custom)
        if found is not None:
            self._updated(*found, by=by)

    @event("Updated")
    def _updated(
        self, attributes: dict[str, Any], custom: dict[str, CustomValue], by: str | None = None
    ) -> None:
        for key, value in attributes.items():
            setattr(self, key, value)
        self.custom.update(custom)

    def set_unsubscribed(self, unsubscribed: bool, by: str) -> None:
        """`by` is snippet, admin, api or link; only a change is recorded."""
        if by == "snippet":
            if self.snippet_unsubscribed != unsubscribed:
                self._unsubscribe_set(unsubscribed, by)
        elif self.manual_unsubscribed != unsubscribed:
            self._unsubscribe_set(unsubscribed, by)

    @event("UnsubscribeSet")
    def _unsubscribe_set(self, unsubscribed: bool, by: str) -> None:
        if by == "snippet":
            self.snippet_unsubscribed = unsubscribed
        else:
            self.manual_unsubscribed = unsubscribed

    # `by`, here and below, is where a change came from (snippet, api, email, or a
    # teammate's admin id), for the user's activity; older events have none.

    def join_company(self, company_key: str, by: str | None = None) -> None:
        if company_key not in self.companies:
            self._joined_company(company_key, by=by)

    @event("JoinedCompany")
    def _joined_company(self, company_key: str, by: str | None = None) -> None:
        self.companies.append(company_key)

    def leave_company(self, company_key: str, by: str | None = None) -> None:
        if company_key in self.companies:
            self._left_company(company_key, by=by)

    @event("LeftCompany")
    def _left_company(self, company_key: str, by: str | None = None) -> None:
        self.companies.remove(company_key)

    def tag(self, tag_id: str, by: str | None = None) -> None:
        if tag_id not in self.tags:
            self._tagged(tag_id, by=by)

    @event("Tagged")
    def _tagged(self, tag_id: str, by: str | None = None) -> None:
        self.tags.append(tag_id)

    def untag(self, tag_id: str, by: str | None = None) -> None:
        if tag_id in self.tags:
            self._untagged(tag_id, by=by)

    @event("Untagged")
    def _untagged(self, tag_id: str, by: str | None = None) -> None:
        self.tags.remove(tag_id)

    @event("EventTracked")
    def track(
        self, name: str, at: datetime, metadata: dict[str, CustomValue], by: str | None = None
    ) -> None:
        """Something the user did in the product ("invited-teammate"), with its details."""
        seconds = int(at.timestamp())
        count_occurrence(self.events.setdefault(name, {"count": 0}), seconds)

    @event("MessageSent")
    def message_sent(self, at: datetime) -> None:
        """A teammate's manual message reached the user (half of the relationship score)."""
        self.last_message_sent_at = max(self.last_message_sent_at or 0, int(at.timestamp()))

    @event("AutoMessageShown")
    def auto_message_shown(
        self, message_id: str, version: int, at: datetime, conversation_id: str | None = None
    ) -> None:
        """An auto message matched for the first time and went out with this page view; a
        popup's `conversation_id` (absent from events stored before it was recorded) stays
        unseen until the widget displays it."""
        self.auto_messages_shown.append(message_id)
        if conversation_id is not None:
            self.popups_unseen[message_id] = conversation_id

    def queue_message(self, message_id: str, at: datetime) -> None:
        """A teammate sent this user an in-app message: shown on their next visit, once."""
        if message_id not in self.messages_waiting and not self.had_message(message_id):
            self._queued(message_id, at)

    def had_message(self, message_id: str) -> bool:
        """The message went out to this user already, or was found to show them nothing."""
        return message_id in self.auto_messages_shown or message_id in self.messages_not_shown

    @event("MessageQueued")
    def _queued(self, message_id: str, at: datetime) -> None:
        self.messages_waiting.append(message_id)

    @event("MessageShown")
    def message_shown(
        self, message_id: str, version: int, at: datetime, conversation_id: str | None = None
    ) -> None:
        """A waiting manual message went out with this page view (a popup: as above)."""
        self.messages_waiting.remove(message_id)
        self.auto_messages_shown.append(message_id)
        if conversation_id is not None:
            self.popups_unseen[message_id] = conversation_id

    @event("MessageNotShown")
    def message_not_shown(self, message_id: str, version: int, reason: str, at: datetime) -> None:
        """A waiting or due in-app message would show this user nothing (its body, with their
        values, is empty): it is skipped, once, and the page view is recorded all the same."""
        if message_id in self.messages_waiting:
            self.messages_waiting.remove(message_id)
        self.messages_not_shown.append(message_id)

    def drop_waiting(self, message_id: str, at: datetime) -> None:
        """A waiting message was stopped before the user came back: it is not shown."""
        if message_id in self.messages_waiting:
            self._withdrawn(message_id, at)

    @event("MessageWithdrawn")
    def _withdrawn(self, message_id: str, at: datetime) -> None:
        self.messages_waiting.remove(message_id)

    def view_auto_message(self, message_id: str, at: datetime) -> None:
        """The widget showed a message this user was sent; views of others are ignored."""
        if message_id in self.auto_messages_shown:
            self._viewed(message_id, at)

    @event("MessageViewed")
    def _viewed(self, message_id: str, at: datetime) -> None:
        self.popups_unseen.pop(message_id, None)

    def click_message(self, message_id: str, url: str, at: datetime) -> None:
        """A link in an in-app message this user was shown was followed (each click is
        recorded; the first counts toward the message's stats)."""
        if message_id in self.auto_messages_shown:
            self._clicked(message_id, url, message_id not in self.messages_clicked, at)

    @event("MessageClicked")
    def _clicked(self, message_id: str, url: str, first: bool, at: datetime) -> None:
        if first:
            self.messages_clicked.append(message_id)

    @event("MessageReceived")
    def message_received(self, at: datetime) -> None:
        """The user wrote to the team (the other half of the relationship score)."""
        seconds = int(at.timestamp())
        self.last_message_received_at = max(self.last_message_received_at or 0, seconds)

    # -- activity ---------------------------------------------------------------------

    def starts_new_session(self, at: datetime, source: str | None) -> bool:
        """A session starts on the first view, after 30 idle minutes, or on a new source."""
        if self.last_seen_at is None or at - self.last_seen_at > SESSION_TIMEOUT:
            return True
        return source is not None and source != self.session_source

    def record_page_view(
        self,
        at: datetime,
        url: str | None,
        referrer: str | None,
        ip: str | None,
        user_agent: str | None,
        timezone: str | None,
        place: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """An impression from the snippet (boot or update)."""
        source = traffic_source(url, referrer)
        new_session = self.starts_new_session(at, source)
        self._seen(at, "widget", new_session, ip, user_agent, place, url, source, timezone)

    def record_request(
        self,
        at: datetime,
        new_session: bool,
        ip: str | None,
        user_agent: str | None,
        place: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Activity reported through the REST API (last_request_at, new_session)."""
        self._seen(at, "api", new_session, ip, user_agent, place)

    def _seen(
        self,
        at: datetime,
        via: str,
        new_session: bool,
        ip: str | None,
        user_agent: str | None,
        place: tuple[str | None, str | None],
        url: str | None = None,
        source: str | None = None,
        timezone: str | None = None,
    ) -> None:
        self.trigger_event(
            self.Seen,
            at=at,
            url=url,
            source=source,
            ip=ip,
            user_agent=user_agent,
            timezone=timezone,
            city=place[0],
            country=place[1],
            new_session=new_session,
            via=via,
        )

    def apply_seen(self, seen: User.Seen) -> None:
        if self.last_seen_at is None or seen.at >= self.last_seen_at:
            self.last_seen_at = seen.at
        if seen.via == "api":
            self.last_request_at = seen.at
        if seen.new_session:
            self.session_count += 1
            self.session_source = seen.source
        if seen.url is not None:
            self.impressions += 1
            self.last_url = seen.url
        for name in ("ip", "user_agent", "timezone", "city", "country"):
            value = getattr(seen, name)
            if value is not None:
                setattr(self, "last_seen_ip" if name == "ip" else name, value)

    # -- lifecycle --------------------------------------------------------------------

    @event("Deleted")
    def delete(self, at: datetime) -> None:
        self._reset()
        self.deleted = True

    @event("Restored")
    def restore(self, app_id: str, at: datetime, user_id: str | None, email: str | None) -> None:
        """A deleted user seen again starts over as a fresh record under the same id."""
        self._reset()
        self.deleted = False
        self.user_id = user_id
        self.email = email
        self.created_at = at


class Alias(Aggregate):
    """Points a second identifier (an email, or a user_id claimed later) at a user."""

    @staticmethod
    def create_id(key: UUID, user: UUID) -> UUID:
        return key

    @event("Created")
    def __init__(self, key: UUID, user: UUID) -> None:
        self.user = user
