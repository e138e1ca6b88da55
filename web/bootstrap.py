"""The composition root: wires configuration, event store, projections, clock and GeoIP."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from commands.clock import Clock, SystemClock
from commands.geoip import Locator
from commands.store import Parley
from commands.users import Locate, nowhere
from migrations import upgrade
from projections.companies import CompaniesProjection
from projections.conversation_emails import ConversationEmailsProjection
from projections.conversations import ConversationsProjection
from projections.db import ensure_sqlite_dir, make_engine
from projections.log import Log
from projections.message_list import MessageListProjection
from projections.message_recipients import MessageRecipientsProjection
from projections.message_stats import MessageStatsProjection
from projections.messages import MessagesProjection
from projections.notes import NotesProjection
from projections.runner import Projection, Runner
from projections.segments import SegmentsProjection
from projections.tags import TagsProjection
from projections.tracked_events import TrackedEventsProjection
from projections.users import UsersProjection
from queries.audience.lifecycle import AudienceIndexes
from web.config import Config
from workers.jobs import Jobs, make_broker
from workers.sweep import Sweeper


def all_projections() -> list[Projection]:
    return [
        UsersProjection(),
        CompaniesProjection(),
        TagsProjection(),
        SegmentsProjection(),
        MessageStatsProjection(),
        MessagesProjection(),
        MessageListProjection(),
        TrackedEventsProjection(),
        MessageRecipientsProjection(),
        ConversationsProjection(),
        ConversationEmailsProjection(),
        NotesProjection(),
    ]


@dataclass
class Services:
    config: Config
    store: Parley
    engine: Engine
    runner: Runner
    clock: Clock
    indexes: AudienceIndexes
    locate: Locate = field(default=nowhere)

    def close(self) -> None:
        self.indexes.stop()
        self.runner.stop()
        self.store.close()
        self.runner.engine.dispose()
        self.engine.dispose()
        if isinstance(self.locate, Locator):
            self.locate.close()


def migrate(config: Config) -> None:
    """Create the event store's tables and bring the projection tables up to date."""
    ensure_sqlite_dir(config.database_url)
    Parley(config.database_url).close()
    upgrade(config.database_url)


def bootstrap(
    config: Config, clock: Clock | None = None, *, start_runner: bool = False
) -> Services:
    ensure_sqlite_dir(config.database_url)
    store = Parley(config.database_url)
    runner = Runner(
        store,
        make_engine(config.database_url, writer=True),
        all_projections(),
        helps=config.projections == "external",
    )
    engine = make_engine(config.database_url)
    services = Services(
        config=config,
        store=store,
        engine=engine,
        runner=runner,
        clock=clock or SystemClock(),
        indexes=AudienceIndexes(engine, Log(store), config.audience_index_min_users),
        locate=Locator(config.geoip_db) if config.geoip_db else nowhere,
    )
    if start_runner and config.projections == "inline":
        runner.start()
    return services


def jobs_for(services: Services, *, sweep: bool = True) -> Jobs:
    """Redis and separate `parley worker` processes when REDIS_URL is set; else this
    process works its own queue, and sweeps (`sweep`: the process that runs the reactions,
    which queue the work; web processes queue nothing)."""
    config = services.config
    jobs = Jobs(
        services, make_broker(config.redis_url), 0 if config.redis_url else config.email_workers
    )
    if sweep and not config.redis_url and config.sweep_seconds > 0:
        start_sweep(jobs, config.sweep_seconds)  # with Redis, `parley worker` sweeps
    return jobs


def start_sweep(jobs: Jobs, seconds: float) -> None:
    """The periodic sweep (workers/sweep.py) beside these workers, until they stop."""
    jobs.also_stop(Sweeper(jobs).run_every(seconds).set)
