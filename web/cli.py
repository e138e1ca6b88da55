"""The `parley` command line: serving, migrating, apps and admins, projections, exports."""

from __future__ import annotations

import json
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import click

from commands.accounts import SetPassword, set_password
from commands.apps import (
    AddAdmin,
    CreateApp,
    add_admin,
    create_app,
    load_app,
)
from commands.clock import SystemClock
from commands.errors import CommandError
from commands.handling import handle
from commands.store import Parley
from projections.db import make_engine
from projections.rebuild import rebuild
from queries.history import Window, app_history, app_ids
from web.bootstrap import Services, all_projections, bootstrap, jobs_for, migrate, start_sweep
from web.cli_apps import admin_group, app_group, config
from workers.reactions import follow


@click.group()
def cli() -> None:
    """Parley: self-hosted customer messaging."""


cli.add_command(app_group)
cli.add_command(admin_group)


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
@click.option(
    "--users",
    "how_many",
    type=click.IntRange(40, 5000),
    default=300,
    show_default=True,
    help="How many users the first run seeds the demo app with.",
)
def demo(how_many: int) -> None:
    """Create (once) a demo app and admin, seed it (once) with a few hundred users and their
    companies, sessions, tags, events and conversations, and print its keys and a snippet."""
    import time
    from dataclasses import asdict

    from commands.geoip import Locator
    from commands.users import nowhere
    from web.demo_data import seed_demo

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

    def keep() -> None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.touch(mode=0o600)  # readable by its owner only, before the secrets go in
        saved.chmod(0o600)
        saved.write_text(json.dumps(details, indent=2))

    if "password" not in details:  # the teammate's dashboard password (kept with the keys)
        details["password"] = secrets.token_urlsafe(12)
        email = details["admin"]["email"]
        memberships = {details["app_id"]: details["admin"]["id"]}
        cmd = SetPassword(email, details["password"], memberships)
        handle(set_password, cmd, store, SystemClock())
        keep()
    if "seeded" not in details:  # the demo's users, companies, conversations: once
        started = time.monotonic()
        locate = Locator(cfg.geoip_db) if cfg.geoip_db else nowhere
        try:
            seeded = seed_demo(
                store, details["app_id"], details["admin"]["id"], locate=locate, users=how_many
            )
        finally:
            if isinstance(locate, Locator):
                locate.close()
        details["seeded"] = asdict(seeded) if seeded is not None else True
        keep()
        if seeded is not None:
            click.echo(
                f"seeded the demo app: {seeded.users} users, {seeded.companies} companies, "
                f"{seeded.conversations} conversations ({time.monotonic() - started:.1f} s)",
                err=True,
            )
    store.close()
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
  app_id:    {app_id}
  API key:   {api_key}
  secret:    {secret}   (secure mode HMAC key; secure mode is off)
  admin:     {admin_email}
  dashboard: {base}/signin   (email {admin_email}, password {password},
             as `parley demo` set it)
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
