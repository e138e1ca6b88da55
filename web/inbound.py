"""Inbound email over HTTP, for mail providers' webhooks, and attachments' bytes.

`POST /email/inbound` takes one raw RFC 822 email as the request body (any content type;
`message/rfc822` is usual), authenticated like every REST call with the app's id and API key.
`recipient=` may give the envelope recipient (a reply address carries the conversation's
token); without it the email's To/Cc/Delivered-To headers are read. The answer says where the
email went; a refused one gets 422 with the reason and nothing is stored.

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

import re

from flask import Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from commands.inbound import Refused, attachment, receive
from web.api import api, services
from web.errors import NotFound, error_list
from workers.inbound import follow_up, limits_for

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@api.post("/email/inbound")
def post_inbound_email() -> ResponseReturnValue:
    s = services()
    limits = limits_for(s)
    if (request.content_length or 0) > limits.max_bytes:
        return error_list(
            413,
            [
                {
                    "code": "email_too_large",
                    "message": f"the email is over the limit of {limits.max_bytes} bytes",
                }
            ],
        )
    raw = request.get_data(cache=False)
    recipient = request.args.get("recipient")
    try:
        outcome = receive(s.store, s.engine, s.clock, limits, g.app_id, raw, recipient)
    except Refused as refused:
        return error_list(
            413 if refused.code == 552 else 422,
            [{"code": "email_refused", "field": "email", "message": refused.reason}],
        )
    follow_up(current_app.extensions["parley_jobs"], g.app_id, outcome)
    return jsonify(
        {
            "type": "inbound_email",
            "status": outcome.status,
            "conversation_id": outcome.conversation_id,
            "part_id": outcome.part_id,
            "reason": outcome.reason,
        }
    )


@api.get("/attachments/<sha256>")
def get_attachment(sha256: str) -> ResponseReturnValue:
    """An attachment's bytes, always as a download (never rendered on Parley's origin)."""
    found = attachment(services().engine, g.app_id, sha256) if SHA256.match(sha256) else None
    if found is None:
        raise NotFound(f"no attachment {sha256}")
    content_type, data = found
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{sha256[:12]}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
