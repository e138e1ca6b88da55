"""Inbound email over HTTP, for mail providers' webhooks, and attachments' bytes.

`POST /email/inbound` takes one raw RFC 822 email as the request body (any content type;
`message/rfc822` is usual), authenticated like every REST call with the app's id and API key.
`recipient=` may give the envelope recipient (a reply address carries the conversation's
token); without it the email's To/Cc/Delivered-To headers are read. The answer says where the
email went; a refused one gets 422 with the reason and nothing is stored.

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, request
from flask.typing import ResponseReturnValue
from marshmallow import EXCLUDE, Schema, fields

from commands.attachments import attachment
from commands.inbound import receive
from commands.mime import Refused
from commands.tokens import file_token, read_file_token
from domain.conversations import Attachment
from web.api import api, read_your_writes, services
from web.errors import NotFound, error_list
from web.openapi import answers, asked


class InboundArgs(Schema):
    class Meta:
        unknown = EXCLUDE  # a mail provider's own parameters are left alone

    recipient = fields.String(
        metadata={"description": "the envelope recipient (else the To/Cc headers are read)"},
    )


class InboundEmailSchema(Schema):
    """Where an email went: `started` a conversation, `replied` in one (`part_id`), or was
    a `duplicate` of one received before, or `ignored` (an automatic reply: `reason`)."""

    type = fields.Constant("inbound_email", required=True)
    status = fields.String(
        required=True, metadata={"enum": ["started", "replied", "duplicate", "ignored"]}
    )
    conversation_id = fields.String(required=True, allow_none=True)
    part_id = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)


@api.post("/email/inbound")
@answers(
    InboundEmailSchema,
    query=InboundArgs(),
    errors={
        413: "The email is over the size limit (`email_too_large`, or `email_refused`)",
        422: "The email was refused (`email_refused`, with the reason); nothing is stored",
    },
)
def post_inbound_email() -> Any:
    """Receive one email, as a mail provider's webhook does

    The request body is one raw RFC 822 email, whatever its content type (`message/rfc822`
    is usual). `recipient=` may name the envelope recipient (a reply address carries the
    conversation's token); without it the email's To, Cc and Delivered-To headers are read.
    A user's email starts a conversation or replies in one."""
    s = services()
    limits = s.config.inbound
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
    request.max_content_length = limits.max_bytes  # chunked bodies too: 413 past the limit
    raw = request.get_data(cache=False)
    recipient = asked().get("recipient")
    try:
        outcome = receive(s.store, s.engine, s.clock, limits, g.app_id, raw, recipient)
    except Refused as refused:
        return error_list(
            413 if refused.code == 552 else 422,
            [{"code": "email_refused", "field": "email", "message": refused.reason}],
        )
    if outcome.status in ("started", "replied"):
        read_your_writes(s.store.head())  # the inbox shows it once this answers
    return outcome


files = Blueprint("files", __name__)


@files.get("/files/<token>/<name>")
def get_file(token: str, name: str) -> ResponseReturnValue:
    """An attachment's bytes, by its signed link (as the conversation's `attachments` give
    it, to teammates and to the user alike); always a download, never rendered on Parley's
    origin."""
    s = services()
    named = read_file_token(s.config.secret_key, token)
    found = attachment(s.engine, *named) if named is not None else None
    if found is None:
        raise NotFound("no such file")
    content_type, data = found
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def file_url(app_id: str, kept: Attachment) -> str:
    token = file_token(services().config.secret_key, app_id, kept["sha256"])
    name = quote(kept["name"].replace("/", "_"), safe="") or "file"
    return f"{request.host_url.rstrip('/')}/files/{token}/{name}"
