"""The bulk API over REST (Intercom 2015): `POST /bulk/users`, `POST /bulk/events` answer
`202` with a `job` at once; `GET /jobs/{id}` shows its progress, `GET /jobs/{id}/error` the
items refused and why. Routes join the `api` blueprint; web/app.py imports this module before
registering it. The work is commands/bulk_import.py's, queued by the reactions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import g, jsonify, url_for
from flask.typing import ResponseReturnValue

from commands.bulk_import import MAX_ITEMS, StartBulk, start_bulk
from commands.handling import handle
from domain.bulk_jobs import BulkJob
from domain.errors import InvalidValue
from web.api import api, body, services
from web.errors import NotFound

BULK_MAX_BYTES = 16 * 1024 * 1024  # a thousand users with their custom data and companies


def job_out(job: BulkJob) -> dict[str, Any]:
    return {
        "type": "job",
        "id": job.job_id,
        "app_id": job.app_id,
        "name": f"api_bulk_{job.data_type}_job",
        "state": job.state,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "tasks": [
            {
                "type": "job_task",
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


def _post(data_type: str) -> ResponseReturnValue:
    given = body(BULK_MAX_BYTES)
    items = given.get("items")
    if not isinstance(items, list):
        raise InvalidValue("items", f"must be a list of at most {MAX_ITEMS} items")
    s = services()
    extra = tuple(k for k in given if k != "items")
    job = handle(start_bulk, StartBulk(g.app_id, data_type, items, extra), s.store, s.clock)
    return jsonify(job_out(job)), 202


@api.post("/bulk/users")
def bulk_users() -> ResponseReturnValue:
    """Users to create or update (`post`, as `POST /users` takes them) or delete."""
    return _post("user")


@api.post("/bulk/events")
def bulk_events() -> ResponseReturnValue:
    """Events to track (`post`, as `POST /events` takes them)."""
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
def get_job(job_id: str) -> ResponseReturnValue:
    """The job as the event store has it: `completed` once every item is recorded; the lists
    (`GET /users`, counts) show them as soon as the projections have caught up, in moments."""
    return jsonify(job_out(_job(job_id)))


@api.get("/jobs/<job_id>/error")
def get_job_errors(job_id: str) -> ResponseReturnValue:
    job = _job(job_id)
    listed = [
        {
            "type": "bulk_error",
            "index": e["index"],
            "method": job.items[e["index"]]["method"],
            "data_type": job.data_type,
            "data": job.items[e["index"]]["data"],
            "error": e["error"],
        }
        for e in job.errors
    ]
    return jsonify({"type": "bulk_error.list", "job_id": job.job_id, "items": listed})
