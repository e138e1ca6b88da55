"""The bulk API (Intercom 2015): `POST /bulk/users` and `POST /bulk/events` take up to
MAX_ITEMS items `{method: post|delete, data_type, data}` at once as a `BulkJob`; the workers
then work through them CHUNK at a time (`run_chunk`).

A chunk's users, their aliases and companies are changed in memory (`Staged`: what an item
changed is what the next item of the chunk finds) and saved in one transaction with the job's
record of the chunk, so a chunk is applied once or not at all, and a million users cost a few
thousand transactions rather than a million. An item the schemas refuse is recorded as that
item's error and changes nothing. If an item fails once applying has begun, or the save meets a
concurrent write, the chunk is done again an item at a time, each in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from commands.audience_schemas import EventSchema
from commands.clock import Clock
from commands.errors import CommandError
from commands.handling import handle
from commands.schemas import ApiUserSchema, Identifier
from commands.store import Parley
from commands.tracking import TrackEvent, track_event, tracking
from commands.users import (
    DeleteUser,
    Locate,
    SaveUser,
    delete_user,
    find_named_user,
    nowhere,
    save_user,
    saving_user,
)
from domain.bulk_jobs import DATA_TYPES, RUNNING, BulkJob, BulkQueue, bulk_queue_key
from domain.errors import InvalidValue, MissingUserIdentifier
from domain.identity import company_key, email_key, user_id_key

MAX_ITEMS = 1000  # per request (Intercom took 100)
CHUNK = 250  # items per transaction
METHODS = {"user": ("post", "delete"), "event": ("post",)}


@dataclass(frozen=True)
class StartBulk:
    app_id: str
    data_type: str
    items: list[dict[str, Any]]
    items_extra: tuple[str, ...] = ()  # the request's other keys


def start_bulk(cmd: StartBulk, store: Parley, clock: Clock) -> BulkJob:
    """Record the job with its items (checked for shape here: a wrong one refuses the whole
    request, naming it; what each item's data says is checked as it is worked through)."""
    if "job" in cmd.items_extra:
        raise InvalidValue("job", "adding items to a job is not supported: send a new request")
    if cmd.data_type not in DATA_TYPES:
        raise InvalidValue("data_type", f"must be one of {', '.join(DATA_TYPES)}")
    if not cmd.items:
        raise InvalidValue("items", "give at least one item")
    if len(cmd.items) > MAX_ITEMS:
        raise InvalidValue("items", f"at most {MAX_ITEMS} items in one request")
    for n, item in enumerate(cmd.items):
        if not isinstance(item, dict):
            raise InvalidValue(f"items.{n}", "must be an object {method, data_type, data}")
        if item.get("method") not in METHODS[cmd.data_type]:
            allowed = " or ".join(METHODS[cmd.data_type])
            raise InvalidValue(f"items.{n}.method", f"must be {allowed}")
        if item.get("data_type", cmd.data_type) != cmd.data_type:
            raise InvalidValue(f"items.{n}.data_type", f"must be {cmd.data_type}")
        if not isinstance(item.get("data"), dict):
            raise InvalidValue(f"items.{n}.data", "must be an object")
    kept = [{"method": i["method"], "data": i["data"]} for i in cmd.items]
    job = BulkJob.start(cmd.app_id, cmd.data_type, kept, clock.now())
    waiting = store.get_as(BulkQueue, bulk_queue_key(cmd.app_id)) or BulkQueue(app_id=cmd.app_id)
    waiting.queue(job.job_id)
    store.save_all(job, waiting)
    return job


def run_job(job_id: str, store: Parley, clock: Clock, locate: Locate = nowhere) -> str | None:
    """Work through the job if it is its app's next (else the job before it will pass the turn
    on); return the job whose turn it is now, if any. Several transactions: called directly."""
    job = store.get_as(BulkJob, UUID(hex=job_id))
    if job is None:
        return None
    waiting = store.get_as(BulkQueue, bulk_queue_key(job.app_id))
    if waiting is None or not waiting.jobs or waiting.jobs[0] != job_id:
        return None
    while run_chunk(job_id, store, clock, locate):
        pass
    done = handle(finish_job, FinishJob(job.app_id, job_id), store, clock)
    return done.jobs[0] if done.jobs else None


@dataclass(frozen=True)
class FinishJob:
    app_id: str
    job_id: str


def finish_job(cmd: FinishJob, store: Parley, clock: Clock) -> BulkQueue:
    waiting = store.get_as(BulkQueue, bulk_queue_key(cmd.app_id))
    assert waiting is not None
    waiting.finish(cmd.job_id)
    store.save_all(waiting)
    return waiting


class Staged:
    """The store as one chunk sees it: aggregates it changed are found as changed."""

    def __init__(self, store: Parley, keys: Sequence[UUID] = ()) -> None:
        """`keys`: the identifiers the chunk will look up, asked about in one query: those
        never recorded are not looked for again (an import's users are mostly new)."""
        self.store = store
        self.pending: dict[UUID, Aggregate] = {}
        wanted = list(dict.fromkeys(keys))
        self.absent = set(wanted) - (store.recorded_among(*wanted) if wanted else set())

    def stage(self, *aggregates: Aggregate | None) -> None:
        for aggregate in aggregates:
            if aggregate is not None:
                self.pending[aggregate.id] = aggregate

    def find(self, aggregate_id: UUID) -> Any | None:
        found = self.pending.get(aggregate_id)
        if found is not None or aggregate_id in self.absent:
            return found
        return self.store.find(aggregate_id)

    def get_as(self, kind: type[Any], aggregate_id: UUID) -> Any | None:
        found = self.find(aggregate_id)
        return found if isinstance(found, kind) else None

    def recent(self, kind: type[Any], aggregate_id: UUID, max_age: float = 2.0) -> Any | None:
        found = self.pending.get(aggregate_id)
        return found if isinstance(found, kind) else self.store.recent(kind, aggregate_id, max_age)

    def cached(self, aggregate_id: UUID) -> bool:
        return (
            aggregate_id in self.pending
            or aggregate_id in self.absent
            or self.store.cached(aggregate_id)
        )

    def recorded_among(self, *aggregate_ids: UUID) -> set[UUID]:
        mine = {i for i in aggregate_ids if i in self.pending}
        rest = [i for i in aggregate_ids if i not in self.pending and i not in self.absent]
        return mine | (self.store.recorded_among(*rest) if rest else set())

    def save_all(self, *aggregates: Aggregate | None) -> int:
        self.stage(*aggregates)
        return 0  # saved with the chunk


def _refusal(failure: Exception) -> dict[str, Any]:
    """An item's error as the error list shows one: code, message and the field if known."""
    if isinstance(failure, ValidationError):
        field, reason = _first(failure.messages)
        return {"code": "parameter_invalid", "field": field, "message": reason}
    if isinstance(failure, InvalidValue):
        return {"code": "parameter_invalid", "field": failure.field, "message": failure.reason}
    if isinstance(failure, MissingUserIdentifier):
        return {"code": "parameter_invalid", "field": "user_id", "message": str(failure)}
    code = "not_found" if type(failure).__name__.endswith("NotFound") else "parameter_invalid"
    return {"code": code, "message": str(failure)}


def _first(messages: Any, prefix: str = "") -> tuple[str, str]:
    if isinstance(messages, dict) and messages:
        key, value = next(iter(messages.items()))
        return _first(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(messages, list) and messages:
        return _first(messages[0], prefix)
    return prefix, str(messages)


class DeleteRefSchema(Schema):
    """Whom a `delete` item names; the data's other keys are not looked at."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(validate=validate.Length(max=64))
    user_id = Identifier()
    email = fields.String(validate=validate.Length(max=255))


USER_SCHEMA, EVENT_SCHEMA, DELETE_REF = ApiUserSchema(), EventSchema(), DeleteRefSchema()


def parse(data_type: str, item: dict[str, Any], app_id: str) -> Any:
    """The item as a command, or ValidationError: nothing is changed before this."""
    data = item["data"]
    if item["method"] == "delete":
        # Checked for type here: a list or object as `id` had failed the whole job (a 500 in
        # its worker, the job left running and the app's later jobs behind it).
        named = DELETE_REF.load(data)
        ref = {k: named.get(k) for k in ("id", "user_id", "email") if named.get(k) is not None}
        if not ref:
            raise ValidationError({"user_id": ["a user_id, an email or an id is required"]})
        return ref
    schema = USER_SCHEMA if data_type == "user" else EVENT_SCHEMA
    return replace(schema.load(data), app_id=app_id)


def lookups(app_id: str, parsed: Any) -> list[UUID]:
    """The keys applying this item will look up: its user's identifiers and companies."""
    if isinstance(parsed, SaveUser):
        given = parsed.user
        found = [user_id_key(app_id, given.user_id)] if given.user_id else []
        found += [email_key(app_id, given.email)] if given.email else []
        return found + [company_key(app_id, c.company_id) for c in given.companies if c.company_id]
    return []


def _apply(staged: Staged, clock: Clock, app_id: str, parsed: Any, locate: Locate) -> None:
    """One parsed item, on the chunk's staged aggregates (commands/users.py's save_user,
    delete_user and commands/tracking.py's track_event, without their saves)."""
    store = cast(Parley, staged)
    now = clock.now()
    if isinstance(parsed, dict):  # a delete
        user = find_named_user(store, app_id, **parsed)
        user.delete(at=now)
        staged.stage(user)
    elif isinstance(parsed, TrackEvent):
        staged.stage(tracking(parsed, store, clock))
    else:
        user, others = saving_user(cast(SaveUser, parsed), store, now, locate)
        staged.stage(user, *others)


def run_chunk(job_id: str, store: Parley, clock: Clock, locate: Locate = nowhere) -> bool:
    """Work through the job's next chunk; True while more are left."""
    job = store.get_as(BulkJob, UUID(hex=job_id))
    if job is None or job.state != RUNNING:
        return False
    start = job.done
    chunk = job.items[start : start + CHUNK]
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, Any]] = []
    for offset, item in enumerate(chunk):
        try:
            parsed.append((offset, parse(job.data_type, item, job.app_id)))
        except ValidationError as refused:
            errors.append({"index": start + offset, "error": _refusal(refused)})
    staged = Staged(store, [k for _, p in parsed for k in lookups(job.app_id, p)])
    one_by_one = False
    for _offset, command in parsed:
        try:
            _apply(staged, clock, job.app_id, command, locate)
        except (CommandError, InvalidValue, MissingUserIdentifier):
            one_by_one = True  # it may have changed something before failing: redo alone
            break
    if not one_by_one:
        job.chunk_done(start, len(chunk), errors, clock.now())
        try:
            store.save_all(job, *staged.pending.values())
            return job.state == RUNNING
        except Exception:  # a concurrent write to one of them: redo the chunk alone
            job = store.get_as(BulkJob, UUID(hex=job_id))
            if job is None or job.done != start:
                return bool(job is not None and job.state == RUNNING)
    return _one_by_one(job, start, chunk, store, clock, locate)


def _one_by_one(
    job: BulkJob,
    start: int,
    chunk: list[dict[str, Any]],
    store: Parley,
    clock: Clock,
    locate: Locate,
) -> bool:
    errors: list[dict[str, Any]] = []
    for offset, item in enumerate(chunk):
        try:
            _one(job, item, store, clock, locate)
        except (CommandError, InvalidValue, MissingUserIdentifier, ValidationError) as failure:
            errors.append({"index": start + offset, "error": _refusal(failure)})
    fresh = store.get_as(BulkJob, job.id)
    assert fresh is not None
    fresh.chunk_done(start, len(chunk), errors, clock.now())
    store.save_all(fresh)
    return fresh.state == RUNNING


def _one(job: BulkJob, item: dict[str, Any], store: Parley, clock: Clock, locate: Locate) -> None:
    parsed = parse(job.data_type, item, job.app_id)
    if isinstance(parsed, dict):
        user = find_named_user(store, job.app_id, **parsed)
        handle(delete_user, DeleteUser(job.app_id, user.id.hex), store, clock)
    elif isinstance(parsed, TrackEvent):
        handle(track_event, parsed, store, clock)
    else:
        handle(save_user, parsed, store, clock, locate)
