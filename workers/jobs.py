"""Background work on dramatiq: a Redis broker when REDIS_URL is set (run `parley worker`
processes), otherwise an in-memory broker with worker threads inside the process that runs the
reactions (workers/reactions.py), which queue all of it. The periodic sweep (workers/sweep.py)
runs beside the workers: in `parley worker`, or beside the reactions without Redis.

Actors are bound to a broker made here, not to a module-level global, so tests and processes
can each have their own; delivery is at least once, so every actor is idempotent (emails go
through domain/delivery.py's claim).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import dramatiq
from dramatiq import Broker, Worker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from commands.accounts import send_invitation
from commands.apps import recent_app
from commands.bulk_import import run_job
from commands.delivery import DeliveryDeferred, deliver_email, email_composer
from commands.email import Sender
from commands.mail import transport
from commands.notifications import email_user, notify_admins
from domain.messages import Message
from domain.user import User
from workers.services import Services
from workers.webhooks import deliver

EMAIL_QUEUE = "email"
WEBHOOK_QUEUE = "webhooks"
BULK_QUEUE = "bulk"
WEBHOOK_THREADS = 4  # per worker process: each is one receiver's try at a time
# Refused sends are retried with exponential backoff from 5 s up to an hour, for about a day.
RETRIES, MIN_BACKOFF_MS, MAX_BACKOFF_MS = 30, 5_000, 3_600_000


def quiet(work: Callable[..., object]) -> Callable[..., None]:
    """The actor's function without its result: dramatiq logs a warning for each job whose
    function returns something when no results backend keeps it."""

    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> None:
        work(*args, **kwargs)

    return run


def companion(broker: Broker) -> Broker:
    """A second broker on the same Redis (or a second in-memory one), for queues that must
    have workers of their own."""
    if isinstance(broker, RedisBroker):
        return RedisBroker(client=broker.client, namespace=f"{broker.namespace}-webhooks")
    return StubBroker()


def make_broker(redis_url: str | None, namespace: str = "parley") -> Broker:
    if redis_url:
        return RedisBroker(url=redis_url, namespace=namespace)
    return StubBroker()


class Jobs:
    """The actors, bound to one broker and one set of services."""

    def __init__(self, services: Services, broker: Broker, in_process_threads: int = 0) -> None:
        """With `in_process_threads`, this process works its own queue (no Redis), starting
        its worker on the first job."""
        self.services = services
        self.broker = broker
        self.in_process_threads = in_process_threads
        self._worker: Worker | None = None
        self._stops: list[Callable[[], object]] = []
        self._starting = threading.Lock()
        config = services.config
        self._compose = email_composer(services.store, config.mailing, self._sender)
        self._transport = transport(config.smtp_url, config.outbox_dir)
        self.send_email = dramatiq.actor(
            broker=broker,
            actor_name="send_email",
            queue_name=EMAIL_QUEUE,
            max_retries=RETRIES,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=MAX_BACKOFF_MS,
            retry_when=lambda _retries, error: isinstance(error, DeliveryDeferred),
        )(quiet(self._send_email))
        self.notify_admins = dramatiq.actor(
            broker=broker, actor_name="notify_admins", queue_name=EMAIL_QUEUE, max_retries=3
        )(quiet(self._notify_admins))
        self.email_reply = dramatiq.actor(
            broker=broker, actor_name="email_reply", queue_name=EMAIL_QUEUE, max_retries=3
        )(quiet(self._email_user))
        self.send_invitation = dramatiq.actor(
            broker=broker, actor_name="send_invitation", queue_name=EMAIL_QUEUE, max_retries=3
        )(quiet(self._send_invitation))
        self._mailing = config.mailing
        self.run_bulk = dramatiq.actor(
            broker=broker, actor_name="run_bulk", queue_name=BULK_QUEUE, max_retries=3
        )(self._run_bulk)
        # Webhooks on a broker of their own, worked by threads of their own (start_worker).
        self.hooks_broker = companion(broker)
        self.deliver_webhooks = dramatiq.actor(
            broker=self.hooks_broker,
            actor_name="deliver_webhooks",
            queue_name=WEBHOOK_QUEUE,
            max_retries=3,
        )(self._deliver_webhooks)

    def preview_email(self, message: Message, user: User) -> EmailMessage:
        """The email this message's current version makes for this user, as a worker would
        build it (nothing claimed, nothing sent)."""
        return self._compose(message, user, len(message.versions) - 1)

    def _sender(self, message: Message) -> Sender:
        app = recent_app(self.services.store, message.app_id)
        admin = app.admins.get(message.admin_id, {})
        return Sender(admin.get("name", app.name), admin.get("email", f"team@{app.app_id}.parley"))

    def _send_email(self, message_id: str, user_key: str, bulk: bool) -> str:
        return deliver_email(
            message_id,
            user_key,
            bulk=bulk,
            store=self.services.store,
            clock=self.services.clock,
            transport=self._transport,
            compose=self._compose,
        )

    def _notify_admins(self, app_id: str, conversation_id: str, part_id: str) -> int:
        s = self.services
        return notify_admins(
            s.store, s.clock, self._transport, app_id, conversation_id, part_id, self._mailing
        )

    def _email_user(self, app_id: str, conversation_id: str, part_id: str) -> bool:
        s = self.services
        return email_user(
            s.store, s.clock, self._transport, app_id, conversation_id, part_id, self._mailing
        )

    def _send_invitation(self, email: str, invitation: str) -> bool:
        s = self.services
        return send_invitation(s.store, s.clock, self._transport, self._mailing, email, invitation)

    def _deliver_webhooks(self, subscription_id: str) -> None:
        """Send what is pending for one subscription, in order; if the receiver failed, this
        job comes back when its retry is due (workers/webhooks.py)."""
        s = self.services
        sent = deliver(s.store, s.engine, s.clock, subscription_id, s.config.webhook_allow_private)
        if sent.retry_in is not None:
            self.deliver_webhooks.send_with_options(
                args=(subscription_id,), delay=sent.retry_in * 1000
            )

    def _run_bulk(self, job_id: str) -> None:
        """Work through a bulk job, a chunk (one transaction) at a time, if it is its app's
        next; then queue the one after it (an app's jobs go in the order they were taken)."""
        s = self.services
        following = run_job(job_id, s.store, s.clock, s.locate)
        if following is not None:
            self.bulk(following)

    def bulk(self, job_id: str) -> None:
        """Queue the working through of a bulk job (commands/bulk_import.py)."""
        self._ensure_worker()
        self.run_bulk.send(job_id)

    def webhooks(self, subscription_id: str) -> None:
        """Queue the sending of a subscription's pending notifications."""
        self._ensure_worker()
        self.deliver_webhooks.send(subscription_id)

    def invite(self, email: str, invitation: str) -> None:
        """Queue the email inviting a new teammate (commands/accounts.py)."""
        self._ensure_worker()
        self.send_invitation.send(email, invitation)

    def notify(self, app_id: str, conversation_id: str, part_id: str) -> None:
        """Queue the emails to teammates about a user's message (commands/notifications.py)."""
        self._ensure_worker()
        self.notify_admins.send(app_id, conversation_id, part_id)

    def answer_by_email(self, app_id: str, conversation_id: str, part_id: str) -> None:
        """Queue the email to the user of a teammate's comment in a conversation held by
        email."""
        self._ensure_worker()
        self.email_reply.send(app_id, conversation_id, part_id)

    def email(self, message_id: str, user_key: str, bulk: bool, retries: int | None = None) -> None:
        """Queue one email of a message to one user (`retries`: at most that many retries)."""
        self._ensure_worker()
        options: dict[str, Any] = {} if retries is None else {"max_retries": retries}
        self.send_email.send_with_options(args=(message_id, user_key, bulk), **options)

    def _ensure_worker(self) -> None:
        if not self.in_process_threads:
            return
        with self._starting:
            if self._worker is None:
                # A queue in memory costs nothing to poll: poll it often, so stop() returns
                # at once rather than after dramatiq's 1 s poll of the consumer, then the workers.
                self._worker = self.start_worker(self.in_process_threads, poll_ms=100)

    def start_worker(self, threads: int, poll_ms: int = 1000) -> Worker:
        """`threads` for emails and bulk jobs; webhooks get WEBHOOK_THREADS of their own, so
        a customer's slow receiver (10 s a try) never holds up anyone's email or import. The
        webhooks' worker stops with `stop()`."""
        hooks = Worker(self.hooks_broker, worker_threads=WEBHOOK_THREADS, worker_timeout=poll_ms)
        hooks.start()
        self._stops.append(hooks.stop)
        worker = Worker(self.broker, worker_threads=threads, worker_timeout=poll_ms)
        worker.start()
        return worker

    def also_stop(self, stop: Callable[[], object]) -> None:
        """Run `stop` when this is stopped (the sweep beside these workers)."""
        self._stops.append(stop)

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
