"""Email opens and clicks: `/e/{token}/open.gif` (an image in the HTML part) and
`/e/{token}/click` (every http(s) link in it). The token is signed and names the message, the
user and, for a click, the address; an unknown or forged token changes nothing.

Recording never stands between the user and their link: if the store is unreachable the
click still redirects (and the open still gets its image), and the failure is logged.
"""

from __future__ import annotations

import base64
import logging

from flask import Blueprint, Response, redirect
from flask.typing import ResponseReturnValue

from commands.delivery import Engagement, record_engagement
from commands.errors import MessageNotFound
from commands.handling import handle
from commands.tokens import read_tracking_token
from web import context
from web.bootstrap import Services

log = logging.getLogger(__name__)
tracking = Blueprint("tracking", __name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _read(token: str) -> tuple[Services, str, str, str | None]:
    services = context.services()
    found = read_tracking_token(services.config.secret_key, token)
    if found is None:
        raise MessageNotFound("this link")
    return (services, *found)


@tracking.get("/e/<token>/open.gif")
def opened(token: str) -> ResponseReturnValue:
    services, message_id, user_key, _url = _read(token)
    try:
        handle(record_engagement, Engagement(message_id, user_key), services.store, services.clock)
    except Exception:
        log.exception("could not record an open of message %s", message_id)
    response = Response(PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, private"
    return response


@tracking.get("/e/<token>/click")
def clicked(token: str) -> ResponseReturnValue:
    services, message_id, user_key, url = _read(token)
    if url is None or not url.lower().startswith(("http://", "https://")):
        raise MessageNotFound("this link")
    try:
        clicked = Engagement(message_id, user_key, url)
        handle(record_engagement, clicked, services.store, services.clock)
    except Exception:
        log.exception("could not record a click in message %s", message_id)
    return redirect(url, code=302)
