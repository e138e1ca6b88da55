"""The bulk API over REST (Intercom 2015): `POST /bulk/users`, `POST /bulk/events` answer
`202` with a `job` at once; `GET /jobs/{id}` shows its progress, `GET /jobs/{id}/error` the
items refused and why. Routes join the `api` blueprint; web/app.py imports this module before
registering it. The work is commands/bulk_import.py's, queued by the reactions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import g, url_for
from marshmallow import Schema, fields, validate

from commands.bulk_import import MAX_ITEMS, StartBulk, start_bulk
from commands.handling import handle
from domain.bulk_jobs import BulkJob
from domain.errors import InvalidValue
from web.api import api, services
from web.errors import NotFound
from web.openapi import Answer, ErrorSchema, answers, raw_body

BULK_MAX_BYTES = 16 * 1024 * 1024  # a thousand users with their custom data and companies


class BulkItemSchema(Schema):
    method = fields.String(
        required=True,
        metadata={"description": "users: `post` (create or update) or `delete`; events: `post`"},
    )
    data_type = fields.String(
        metadata={"description": "`user` or `event`, as the path says (may be left out)"}
    )
    data = fields.Dict(
        required=True,
        metadata={
            "description": "a user as `POST /users` takes one (to delete: `user_id`, `email` "
            "or `id`), or an event as `POST /events` takes one"
        },
    )


class BulkSchema(Schema):
    """Up to 1,000 items (16 MB), checked for shape at once; what each item's `data` says is
    checked as the job works through it."""

    items = fields.List(
        fields.Nested(BulkItemSchema), required=True, validate=validate.Length(min=1, max=MAX_ITEMS)
    )


class JobTaskSchema(Schema):
    type = fields.Constant("job_task", required=True)
    item_count = fields.Integer(required=True)
    done = fields.Integer(required=True, metadata={"description": "items worked through"})
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    state = fields.String(required=True)


class JobLinksSchema(Schema):
    self = fields.String(required=True, metadata={"description": "this job (`GET /jobs/{id}`)"})
    error = fields.String(
        required=True, metadata={"description": "its refused items (`GET /jobs/{id}/error`)"}
    )


class JobSchema(Schema):
    """A bulk job: `running`, then `completed` or `completed_with_errors`."""

    type = fields.Constant("job", required=True)
    id = fields.String(required=True)
    app_id = fields.String(required=True)
    name = fields.String(
        required=True, metadata={"description": "api_bulk_user_job or api_bulk_event_job"}
    )
    state = fields.String(
        required=True,
        validate=validate.OneOf(["running", "completed", "completed_with_errors"]),
    )
    created_at = fields.Integer(required=True)
    started_at = fields.Integer(required=True, allow_none=True)
    completed_at = fields.Integer(required=True, allow_none=True)
    tasks = fields.List(fields.Nested(JobTaskSchema), required=True)
    links = fields.Nested(JobLinksSchema, required=True)


class BulkErrorSchema(Schema):
    type = fields.Constant("bulk_error", required=True)
    index = fields.Integer(required=True, metadata={"description": "the item's, from 0"})
    method = fields.String(required=True)
    data_type = fields.String(required=True)
    data = fields.Dict(required=True)
    error = fields.Nested(ErrorSchema, required=True)


class BulkErrorListSchema(Schema):
    type = fields.Constant("bulk_error.list", required=True)
    job_id = fields.String(required=True)
    items = fields.List(fields.Nested(BulkErrorSchema), required=True)


BULK_IN = BulkSchema()


def job_out(job: BulkJob) -> dict[str, Any]:
    """The job for JobSchema."""
    return {
        "id": job.job_id,
        "app_id": job.app_id,
        "name": f"api_bulk_{job.data_type}_job",
        "state": job.state,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "tasks": [
            {
                "item_count": len(job.items),
                "done": job.done,
                "succeeded": job.succeeded,
                "failed": len(job.errors),
                "state": job.state,
            }
        ],
        "links": {
            "self": url_for("api.get_job", job_id=job.job_id, _external=True),
            "error": url_for("api.get_job_errors", job_id=job.job_id, _external=True),
        },
    }


def _post(data_type: str) -> Answer:
    # Loaded as sent: start_bulk checks each item's shape, naming it (`items.3.method`), and
    # refuses other keys by name (`job`: adding to a job).
    loaded = raw_body(BULK_MAX_BYTES)
    items = loaded.get("items")
    if not isinstance(items, list):
        raise InvalidValue("items", f"must be a list of at most {MAX_ITEMS} items")
    s = services()
    extra = tuple(k for k in loaded if k != "items")
    job = handle(start_bulk, StartBulk(g.app_id, data_type, items, extra), s.store, s.clock)
    return Answer(job_out(job), status=202)


@api.post("/bulk/users")
@answers(JobSchema, status=202, body=BULK_IN)
def bulk_users() -> Any:
    """Create, update or delete users in bulk

    Users to create or update (`post`, as `POST /users` takes them) or delete (`delete`,
    named by `user_id`, `email` or `id`). Answered at once (202) with the job, worked through
    in order by the workers; `GET /jobs/{id}` follows it."""
    return _post("user")


@api.post("/bulk/events")
@answers(JobSchema, status=202, body=BULK_IN)
def bulk_events() -> Any:
    """Track events in bulk

    Events to track (`post`, as `POST /events` takes them). Answered at once (202) with the
    job, worked through in order by the workers; `GET /jobs/{id}` follows it."""
    return _post("event")


def _job(job_id: str) -> BulkJob:
    try:
        job = services().store.get_as(BulkJob, UUID(hex=job_id))
    except ValueError:
        job = None
    if job is None or job.app_id != g.app_id:
        raise NotFound(f"no job {job_id!r}")
    return job


@api.get("/jobs/<job_id>")
@answers(JobSchema)
def get_job(job_id: str) -> Any:
    """A bulk job's progress

    The job as the event store has it: `completed` once every item is recorded; the lists
    (`GET /users`, counts) show them as soon as the projections have caught up, in moments."""
    return job_out(_job(job_id))


@api.get("/jobs/<job_id>/error")
@answers(BulkErrorListSchema)
def get_job_errors(job_id: str) -> Any:
    """A bulk job's refused items, and why

    Each refused item with its index, as it was sent, and its error (`code`, `message`, the
    `field` when known)."""
    job = _job(job_id)
    listed = [
        {
            "index": e["index"],
            "method": job.items[e["index"]]["method"],
            "data_type": job.data_type,
            "data": job.items[e["index"]]["data"],
            "error": e["error"],
        }
        for e in job.errors
    ]
    return {"job_id": job.job_id, "items": listed}
