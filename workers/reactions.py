"""What follows an event, in one place (DESIGN.md, "The flow", point 5).

No view, SMTP handler or CLI command decides what follows a write: they call command handlers,
and the reactions here turn the events those recorded into work. Each table is followed like a
projection, with a tracked position (projections/runner.py's Follower): a batch of the log is
read, its work queued, and only then its position recorded, so every event's reaction runs at
least once, even when a process dies between a commit and its follow-up. The work is
idempotent, so a reaction run twice does it once: an email's delivery is claimed once, and a
teammate's notification is recorded before it is sent (at most once: a job that dies between
the two loses it).

Two followers, each with its own position: `reactions` queues the quick work (emails to
teammates and users, each claimed send), `fan_outs` records a message's copies for its many
users, which may take a while and must not hold the others up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table

from commands.notifications import START
from domain.account import Account
from domain.bulk_jobs import BulkJob
from domain.conversations import Conversation
from domain.delivery import Delivery
from domain.messages import Message
from projections.events import event_class
from projections.runner import Follower, Runner
from workers.fan_out import auto_email_round, fan_out
from workers.jobs import Jobs
from workers.services import Services
from workers.webhooks import OutboxRunner, WebhookOutbox

STARTED = Conversation.Started
REPLIED = event_class(Conversation, "Replied")
CREATED = event_class(Message, "Created")
CLAIMED = Delivery.Claimed
INVITED = event_class(Account, "Invited")
BULK_CREATED = event_class(BulkJob, "Created")


@dataclass(frozen=True)
class Followed:
    """What the reactions work with: the services, and the queues they put work on."""

    services: Services
    jobs: Jobs

    def conversation(self, event: Any) -> Conversation | None:
        return self.services.store.get_as(Conversation, event.originator_id)


def notify_teammates(followed: Followed, event: Any) -> None:
    """A user wrote (a new conversation, or a comment): the teammates hear of it by email."""
    if isinstance(event, STARTED):
        if event.author["type"] == "user":
            followed.jobs.notify(event.app_id, event.conversation_id, START)
        return
    part = event.part
    if part["author"]["type"] == "user" and part["part_type"] == "comment":
        conversation = followed.conversation(event)
        if conversation is not None:
            followed.jobs.notify(conversation.app_id, conversation.conversation_id, part["id"])


def email_the_user(followed: Followed, event: Any) -> None:
    """A teammate's comment in a conversation held by email goes to the user by email."""
    part = event.part
    if part["author"]["type"] != "admin" or part["part_type"] != "comment":
        return
    conversation = followed.conversation(event)
    if conversation is not None and conversation.via == "email":
        followed.jobs.answer_by_email(conversation.app_id, conversation.conversation_id, part["id"])


def send_claimed(followed: Followed, event: Any) -> None:
    """A claimed email that waits for its send (a fan-out's or the sweep's) is queued."""
    if not event.queued or event.channel != "email":
        return
    message = followed.services.store.recent(Message, UUID(hex=event.message_id))
    if message is not None:
        followed.jobs.email(event.message_id, event.user_key, bulk=message.recipients is None)


def invite_teammate(followed: Followed, event: Any) -> None:
    """A teammate added from the dashboard (or asked to be invited again) is emailed."""
    account = followed.services.store.get_as(Account, event.originator_id)
    if account is not None and event.invitation in account.invitations:
        followed.jobs.invite(account.email, event.invitation)


def run_bulk_job(followed: Followed, event: Any) -> None:
    """A bulk job was taken (web/bulk.py): the workers work through it."""
    followed.jobs.bulk(event.job_id)


def fan_out_message(followed: Followed, event: Any) -> None:
    """A manual message goes to its users; an auto email, first to those who match now."""
    message = followed.services.store.get_as(Message, event.originator_id)
    if message is None:
        return
    if message.kind == "manual":
        fan_out(followed.services, message)
    elif message.message_type == "email":
        auto_email_round(followed.services, message.message_id)


Reaction = Callable[[Followed, Any], None]
REACTIONS: dict[type[Any], list[Reaction]] = {
    STARTED: [notify_teammates],
    REPLIED: [notify_teammates, email_the_user],
    CLAIMED: [send_claimed],
    INVITED: [invite_teammate],
    BULK_CREATED: [run_bulk_job],
}
FAN_OUTS: dict[type[Any], list[Reaction]] = {
    CREATED: [fan_out_message],
}


class Reactions:
    """A table of reactions, followed like a projection (projections/runner.py)."""

    tables: tuple[Table, ...] = ()
    per_aggregate = False

    def __init__(self, name: str, table: dict[type[Any], list[Reaction]], followed: Followed):
        self.name = name
        self.table = table
        self.followed = followed
        self.topics: tuple[str, ...] = tuple(get_topic(e) for e in table)

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        for event in events:
            for react in self.table.get(type(event), ()):
                react(self.followed, event)


def followers(services: Services, jobs: Jobs) -> list[Runner]:
    """The followers (not started), on their own connections: the two reaction tables, and
    the webhooks' outbox (workers/webhooks.py), whose rows and position commit together."""
    followed = Followed(services, jobs)
    engine = services.runner.engine
    outbox = WebhookOutbox(services.store)
    return [
        Follower(services.store, engine, [Reactions("reactions", REACTIONS, followed)]),
        Follower(services.store, engine, [Reactions("fan_outs", FAN_OUTS, followed)]),
        OutboxRunner(services.store, engine, outbox, jobs.webhooks),
    ]


def follow(services: Services, jobs: Jobs) -> list[Runner]:
    """The followers, started; stop each when done."""
    running = followers(services, jobs)
    for follower in running:
        follower.start()
    return running


FOLLOWERS = ("reactions", "fan_outs", "webhooks")
