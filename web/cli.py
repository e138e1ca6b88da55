"""The `parley` command line: serving, migrating, apps and admins, projections, exports."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import click
from marshmallow import ValidationError

from commands.apps import (
    AddAdmin,
    CreateApp,
    SetInboxStyle,
    SetSecureMode,
    add_admin,
    create_app,
    load_app,
    set_inbox_style,
    set_secure_mode,
)
from commands.clock import SystemClock
from commands.conversations import SetDefaultAssignee, set_default_assignee
from commands.errors import CommandError
from commands.handling import handle
from commands.schemas import AdminCreateSchema, AppCreateSchema
from commands.store import Parley
from domain.errors import InvalidValue
from projections.db import make_engine
from projections.rebuild import rebuild
from queries.history import Window, app_history, app_ids
from web.bootstrap import Services, all_projections, bootstrap, jobs_for, migrate, start_sweep
from web.config import Config
from web.errors import flatten
from workers.reactions import follow


def config() -> Config:
    return Config.from_env()


def checked(schema: Any, data: dict[str, Any]) -> Any:
    try:
        return schema.load(data)
    except ValidationError as error:
        reasons = "; ".join(f"{field}: {reason}" for field, reason in flatten(error.messages))
        raise click.UsageError(reasons) from None


@click.group()
def cli() -> None:
    """Parley: self-hosted customer messaging."""


@cli.command("migrate")
def migrate_cmd() -> None:
    """Create the event store and bring projection tables up to date."""
    migrate(config())
    click.echo("database is up to date")


@cli.command("serve")
def serve_cmd() -> None:
    """Serve the web app with gunicorn (HOST, PORT, WEB_WORKERS, WEB_THREADS)."""
    from web.serve import serve

    serve(config())


@cli.group("app")
def app_group() -> None:
    """Apps (workspaces)."""


@app_group.command("create")
@click.argument("name")
def app_create(name: str) -> None:
    """Create an app; prints JSON with app_id, api_key and secret (shown only once) and the
    app's incoming email address."""
    checked(AppCreateSchema(), {"name": name})
    settings = config()
    store = Parley(settings.database_url)
    created = handle(create_app, CreateApp(name), store, SystemClock())
    incoming = settings.incoming_address(created.app_id)
    click.echo(json.dumps({**created.__dict__, "incoming_email": incoming}))


@app_group.command("secure-mode")
@click.argument("app_id")
@click.argument("state", type=click.Choice(["on", "off"]))
def app_secure_mode(app_id: str, state: str) -> None:
    """Turn secure mode on or off for APP_ID."""
    store = Parley(config().database_url)
    try:
        handle(set_secure_mode, SetSecureMode(app_id, state == "on"), store, SystemClock())
    except CommandError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"secure mode {state} for {app_id}")


@app_group.command("assign-to")
@click.argument("app_id")
@click.argument("admin_id")
def app_assign_to(app_id: str, admin_id: str) -> None:
    """New conversations from users go to ADMIN_ID (`none`: they stay unassigned)."""
    store = Parley(config().database_url)
    try:
        assignee = SetDefaultAssignee(app_id, None if admin_id == "none" else admin_id)
        handle(set_default_assignee, assignee, store, SystemClock())
    except (CommandError, InvalidValue) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"new conversations in {app_id} go to {admin_id}")


@app_group.command("inbox")
@click.argument("app_id")
@click.argument("style", type=click.Choice(["none", "simple", "advanced"]))
@click.option("--colour", help="simple: the button's colour, #rgb or #rrggbb")
@click.option("--selector", help="advanced: CSS selector of your inbox link(s)")
@click.option("--no-count", is_flag=True, help="advanced: leave out the unread count")
def app_inbox(
    app_id: str, style: str, colour: str | None, selector: str | None, no_count: bool
) -> None:
    """How the widget shows the inbox: none (default), simple or advanced; prints it as JSON."""
    store = Parley(config().database_url)
    cmd = SetInboxStyle(app_id, style, colour=colour, selector=selector, count=not no_count)
    try:
        setting = handle(set_inbox_style, cmd, store, SystemClock())
    except (CommandError, InvalidValue) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(setting))


@cli.group("admin")
def admin_group() -> None:
    """Admins (teammates)."""


@admin_group.command("create")
@click.option("--app", "app_id", required=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
def admin_create(app_id: str, email: str, name: str) -> None:
    """Add a teammate to an app; prints the admin as JSON."""
    checked(AdminCreateSchema(), {"app_id": app_id, "email": email, "name": name})
    store = Parley(config().database_url)
    try:
        admin = handle(add_admin, AddAdmin(app_id, email, name), store, SystemClock())
    except CommandError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(admin))


@cli.group("projections")
def projections_group() -> None:
    """Read models built from the event log."""


@projections_group.command("rebuild")
@click.argument("name", required=False)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Processes replaying side by side on PostgreSQL (default: one per core).",
)
def projections_rebuild(name: str | None, processes: int | None) -> None:
    """Rebuild NAME (or every projection) from position 0 into fresh tables, then swap."""
    cfg = config()
    chosen = [p for p in all_projections() if name in (None, p.name)]
    if not chosen:
        names = ", ".join(p.name for p in all_projections())
        raise click.UsageError(f"no projection {name!r}; choose from {names}")
    store = Parley(cfg.database_url)
    engine = make_engine(cfg.database_url, writer=True)
    head = store.head()
    for projection in chosen:
        with click.progressbar(
            length=head, label=f"rebuilding {projection.name}", file=sys.stderr
        ) as bar:
            reached = rebuild(store, engine, projection, bar.update, processes)
        click.echo(f"{projection.name}: rebuilt from the log up to position {reached}")
    engine.dispose()


@projections_group.command("run")
def projections_run() -> None:
    """Follow the event log and keep every projection up to date (until interrupted); with
    REACTIONS=inline (the default) run the reactions beside them (see `reactions run`)."""
    settings = config()
    services = bootstrap(settings)
    stops: list[Callable[[], object]] = []
    if settings.reactions == "inline":
        stops = start_reactions(services)
    signal.signal(signal.SIGTERM, lambda *_: services.runner.stopping.set())
    try:
        services.runner.run()
    except KeyboardInterrupt:
        pass
    finally:
        for stop in stops:
            stop()
        services.close()


@cli.group("reactions")
def reactions_group() -> None:
    """What follows events: emails to teammates and users, a message's fan-out, each send."""


@reactions_group.command("run")
def reactions_run() -> None:
    """Follow the event log and queue what each event calls for (until interrupted); for
    REACTIONS=external. Without REDIS_URL this process also works the queue and sweeps."""
    services = bootstrap(config())
    stops = start_reactions(services)
    click.echo("parley reactions: following the log", err=True)
    until_terminated(*stops, services.close)


def start_reactions(services: Services) -> list[Callable[[], object]]:
    """Start the followers of workers/reactions.py with their own queues; their stops."""
    jobs = jobs_for(services)
    return [*(follower.stop for follower in follow(services, jobs)), jobs.stop]


@cli.command("worker")
@click.option("--threads", type=int, default=4, show_default=True, help="Worker threads.")
def worker_cmd(threads: int) -> None:
    """Work the background queues (emails) from Redis and sweep (SWEEP_SECONDS), until
    interrupted."""
    settings = config()
    if not settings.redis_url:
        raise click.ClickException(
            "REDIS_URL is not set: without Redis, each web process works its own queue"
        )
    services = bootstrap(settings)
    jobs = jobs_for(services)
    worker = jobs.start_worker(threads)
    if settings.sweep_seconds > 0:
        start_sweep(jobs, settings.sweep_seconds)
    click.echo(f"parley worker: {threads} threads on {settings.redis_url}", err=True)
    until_terminated(jobs.stop, worker.stop, services.close)


def until_terminated(*cleanups: Callable[[], object]) -> None:
    """Wait for SIGTERM or Ctrl-C, then run the cleanups in order."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for cleanup in cleanups:
            cleanup()


@cli.group("events")
def events_group() -> None:
    """The event history, for analysts and auditors."""


class Moment(click.ParamType):
    """A log position (a whole number) or a moment in ISO 8601 (UTC when no offset). A date
    is written with its dashes (2026-12-01): 20261201 is a position."""

    name = "position|ISO-8601"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | datetime:
        if isinstance(value, int | datetime):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is neither a log position nor an ISO 8601 date", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@events_group.command("export")
@click.option("--app", "app_id", help="The app to export (needed when there are several).")
@click.option("--since", type=Moment(), help="After this log position, or from this moment.")
@click.option("--until", type=Moment(), help="Up to this log position, or before this moment.")
@click.option("--type", "types", multiple=True, help="Only User.Seen, or User, ... (repeatable).")
@click.option("--output", type=click.File("w"), default="-", help="File to write (JSON lines).")
def events_export(
    app_id: str | None,
    since: int | datetime | None,
    until: int | datetime | None,
    types: tuple[str, ...],
    output: Any,
) -> None:
    """Write one app's events as one JSON object per line, in log order, with secrets and key
    hashes redacted."""
    store = Parley(config().database_url)
    known = app_ids(store.recorder)
    if app_id is None:
        if len(known) > 1:
            raise click.UsageError(f"this store holds {len(known)} apps: name one with --app")
        if not known:
            return
        app_id = known[0]
    elif app_id not in known:
        raise click.BadParameter(f"no app {app_id!r}", param_hint="--app")
    window = Window(
        after=since if isinstance(since, int) else 0,
        upto=until if isinstance(until, int) else None,
        since=since if isinstance(since, datetime) else None,
        until=until if isinstance(until, datetime) else None,
        types=types,
    )
    end = window.upto if window.upto is not None else store.head()
    done = window.after
    seen: set[str] = set()
    with click.progressbar(length=max(end - done, 0), label="exporting", file=sys.stderr) as bar:
        for record in app_history(store.recorder, app_id, window):
            output.write(json.dumps(record) + "\n")
            seen.add(record["topic"])
            bar.update(record["position"] - done)
            done = record["position"]
        bar.update(max(end - done, 0))
    for wanted in types:
        if not any(Window(types=(wanted,)).takes_type(topic) for topic in seen):
            click.echo(f"no {wanted!r} event in this export (types are as User.Seen)", err=True)


def snippet(base: str, app_id: str) -> str:
    """The code customers paste into their pages, pointing at this server."""
    template = Template((Path(__file__).parent / "static" / "snippet.html").read_text())
    return template.substitute(base=base, app_id=app_id)


@cli.command("demo")
def demo() -> None:
    """Create (once) a demo app and admin, and print their keys and a snippet to paste."""
    cfg = config()
    store = Parley(cfg.database_url)
    saved = Path("var/demo.json")
    details: dict[str, Any] | None = None
    if saved.exists():
        details = json.loads(saved.read_text())
        try:
            load_app(store, details["app_id"])
        except CommandError:
            details = None
    if details is None:
        created = handle(create_app, CreateApp("Demo app"), store, SystemClock())
        demo_admin = AddAdmin(created.app_id, "admin@example.com", "Demo Admin")
        admin = handle(add_admin, demo_admin, store, SystemClock())
        details = {**created.__dict__, "admin": admin}
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(details, indent=2))
        saved.chmod(0o600)
    base = f"http://{cfg.host}:{cfg.port}"
    click.echo(
        DEMO_TEXT.format(
            base=base,
            **details,
            admin_email=details["admin"]["email"],
            incoming=cfg.incoming_address(details["app_id"]),
        )
    )
    click.echo(snippet(base, details["app_id"]))


DEMO_TEXT = """
Parley demo app
  app_id:   {app_id}
  API key:  {api_key}
  secret:   {secret}   (secure mode HMAC key; secure mode is off)
  admin:    {admin_email}
  incoming email: {incoming}   (forward support mail here; `parley inbound` receives it)

REST API:  curl -u {app_id}:{api_key} {base}/users

Paste before </body> on pages where your users are logged in:
"""


@cli.command("inbound")
def inbound_cmd() -> None:
    """Receive email for the apps' incoming addresses over SMTP (INBOUND_HOST, INBOUND_PORT,
    INBOUND_DOMAIN) until interrupted."""
    from workers.inbound import start_server

    settings = config()
    services = bootstrap(settings)
    server = start_server(services)
    click.echo(
        f"parley inbound: SMTP on {settings.inbound_host}:{settings.inbound_port} "
        f"for *@{settings.inbound_domain}",
        err=True,
    )
    until_terminated(server.stop, services.close)


if __name__ == "__main__":
    cli()
