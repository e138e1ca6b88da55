"""A request's JSON body, read in one place: the size limit is checked before anything is
parsed, and what nests too deep is refused rather than allowed to exhaust the stack."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import ValidationError

from commands.schemas import load_json


def json_object(limit: int) -> dict[str, Any]:
    """The request body as a JSON object, at most `limit` bytes (chunked bodies included)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ValidationError({"body": [f"at most {limit} bytes"]})
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ValidationError({"body": [f"at most {limit} bytes"]})
    data = load_json(raw) if raw.strip() else None
    if not isinstance(data, dict):
        raise ValidationError({"body": ["expected a JSON object"]})
    return data
