"""The Flask application factory."""

from __future__ import annotations

import atexit

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix

from projections.log import Log
from projections.runner import tracked_positions
from web import (
    audience,
    bulk,
    conversation_history,
    conversations,
    errors,
    inbound,
    messages,
    notes,
    segments,
    subscriptions,
)
from web.bootstrap import Services, bootstrap, jobs_for
from web.config import Config
from web.dashboard import dashboard
from web.dashboard.blueprint import csrf
from web.live import Feed
from web.openapi import openapi
from web.rate_limits import RateLimits
from web.signin_limits import SignInLimits
from web.tracking import tracking
from web.unsubscribe import unsubscribe
from web.widget import widget
from workers.jobs import Jobs
from workers.reactions import FOLLOWERS
from workers.reactions import follow as follow_log


def create_app(
    config: Config | None = None,
    services: Services | None = None,
    jobs: Jobs | None = None,
    *,
    follow: bool | None = None,
) -> Flask:
    """Build the app; without `services`, wire real ones from `config` (or the environment).

    With `follow` (by default when this process runs the projections inline), it also runs
    the reactions (workers/reactions.py) with this app's queues; `parley serve`'s web
    processes leave them to the projection runner's process."""
    config = config or (services.config if services else Config.from_env())
    if follow is None:
        follow = services is None and config.projections == "inline"
    if services is None:
        services = bootstrap(config, start_runner=True)
        atexit.register(services.close)
    if jobs is None:
        jobs = jobs_for(services, sweep=follow)
        atexit.register(jobs.stop)
    running = follow_log(services, jobs) if follow and config.reactions == "inline" else []
    for follower in running:
        atexit.register(follower.stop)
    app = Flask(__name__)
    app.extensions["parley_followers"] = running
    app.config["SECRET_KEY"] = config.secret_key
    # The dashboard's session cookie; CSRF is checked on the dashboard's forms only (the REST
    # API authenticates each request, the widget's snippet has no cookie).
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = config.base_url.startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = 14 * 86_400
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # valid as long as the session
    app.extensions["parley_signin_limits"] = SignInLimits(config.redis_url)
    app.extensions["parley_rate_limits"] = RateLimits(
        config.redis_url, config.rate_limit_per_minute, config.widget_conversations_per_hour
    )
    csrf.init_app(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["parley"] = services
    app.extensions["parley_jobs"] = jobs
    live = Feed(services.engine, Log(services.store), config.live_streams)
    app.extensions["parley_live"] = live
    atexit.register(live.stop)
    if config.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies
        )
    errors.register(app)
    app.register_blueprint(widget)
    app.register_blueprint(openapi)
    app.register_blueprint(dashboard)
    app.register_blueprint(unsubscribe)
    app.register_blueprint(tracking)
    app.register_blueprint(inbound.files)
    # The api blueprint, with the routes web.audience, web.segments, web.messages added to it.
    assert audience.api is segments.api is messages.api is conversations.api is inbound.api
    assert conversation_history.api is audience.api is notes.api is subscriptions.api is bulk.api
    app.register_blueprint(audience.api)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        try:
            head = services.store.head()
            names = [p.name for p in services.runner.projections]
            found = tracked_positions(services.runner.engine, [*names, *FOLLOWERS])
        except Exception as error:
            app.logger.warning("health check failed: %s", error)
            return jsonify({"status": "unavailable", "error": "database unreachable"}), 503
        standing = {name: {"position": at, "lag": head - at} for name, at in found.items()}
        projections = {name: standing[name] for name in names}
        reactions = {name: standing[name] for name in FOLLOWERS}
        return jsonify(
            {
                "status": "ok",
                "event_store": {"head": head},
                "projections": projections,
                "reactions": reactions,
            }
        )

    return app
