"""The `parley` command line as an operator uses it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from commands.store import Parley
from domain.app import App, hash_api_key
from domain.identity import app_key
from projections.db import make_engine
from projections.tables import users

PARLEY = str(Path(sys.executable).parent / "parley")


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(database_url: str, *args: str, cwd: Path, given: str | None = None) -> Ran:
    """`parley ARGS` in this process, through click's runner: the same command code, arguments,
    standard streams, environment and exit code as the installed script, without a Python start
    and the imports (a second each). The tests that need a real process (the worker, the SMTP
    server, signals) start `parley` itself."""
    from web.cli import cli

    with contextlib.chdir(cwd):
        result = CliRunner().invoke(
            cli, list(args), input=given or "", env={"DATABASE_URL": database_url}
        )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def run_process(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PARLEY, *args],
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def add_admin(database_url: str, app_id: str, email: str, name: str, cwd: Path) -> Ran:
    return run(
        database_url, "admin", "create", "--app", app_id, "--email", email, "--name", name, cwd=cwd
    )


def test_apps_admins_and_secure_mode_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    migrated = run_process(database_url, "migrate", cwd=tmp_path)  # the installed entry point
    assert migrated.returncode == 0 and "database is up to date" in migrated.stdout
    created = run(database_url, "app", "create", "Acme Inc", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    keys = json.loads(created.stdout)
    assert set(keys) == {"app_id", "api_key", "secret", "incoming_email"}
    assert keys["incoming_email"] == f"{keys['app_id']}@parley.localhost"
    admin = add_admin(database_url, keys["app_id"], "ops@acme.test", "Ops", tmp_path)
    assert admin.returncode == 0, admin.stderr
    assert json.loads(admin.stdout)["email"] == "ops@acme.test"
    again = add_admin(database_url, keys["app_id"], "OPS@acme.test", "Ops", tmp_path)
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = add_admin(database_url, keys["app_id"], "nope", "X", tmp_path)
    assert bad.returncode != 0 and "email" in bad.stderr
    assert (
        run(database_url, "app", "secure-mode", keys["app_id"], "on", cwd=tmp_path).returncode == 0
    )
    missing = run(database_url, "app", "secure-mode", "nosuchapp", "on", cwd=tmp_path)
    assert missing.returncode != 0 and "nosuchapp" in missing.stderr
    assigned = run(database_url, "app", "assign-to", keys["app_id"], "1", cwd=tmp_path)
    assert assigned.returncode == 0, assigned.stderr
    nobody = run(database_url, "app", "assign-to", keys["app_id"], "7", cwd=tmp_path)
    assert nobody.returncode != 0 and "no admin '7'" in nobody.stderr
    store = Parley(database_url)
    try:
        app: App = store.repository.get(app_key(keys["app_id"]))
        assert app.name == "Acme Inc" and app.secure_mode and app.default_assignee == "1"
        assert app.accepts_api_key(keys["api_key"])
        assert [a["email"] for a in app.admins.values()] == ["ops@acme.test"]
    finally:
        store.close()


def test_a_teammates_dashboard_password_from_standard_input(
    database_url: str, tmp_path: Path
) -> None:
    from commands.accounts import signed_in

    assert run(database_url, "migrate", cwd=tmp_path).returncode == 0
    first = json.loads(run(database_url, "app", "create", "Acme", cwd=tmp_path).stdout)
    second = json.loads(run(database_url, "app", "create", "Globex", cwd=tmp_path).stdout)
    for keys in (first, second):
        assert (
            add_admin(database_url, keys["app_id"], "Ops@acme.test", "Ops", tmp_path).returncode
            == 0
        )
    short = run(database_url, "admin", "password", "ops@acme.test", cwd=tmp_path, given="short\n")
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    nobody = run(database_url, "admin", "password", "x@y.z", cwd=tmp_path, given="long enough pw\n")
    assert nobody.returncode != 0 and "no app has a teammate" in nobody.stderr
    done = run(
        database_url, "admin", "password", "ops@acme.test", cwd=tmp_path, given="long enough pw\n"
    )
    assert done.returncode == 0 and "2 app(s)" in done.stdout, done.stderr
    store = Parley(database_url)
    try:
        account = signed_in(store, "OPS@acme.test", "long enough pw")
        assert account is not None
        assert set(account.apps) == {first["app_id"], second["app_id"]}
        assert signed_in(store, "ops@acme.test", "long enough pw!") is None
    finally:
        store.close()


def test_rebuild_and_export_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    from commands.clock import SystemClock
    from tests.helpers import ping
    from web.bootstrap import bootstrap, migrate
    from web.config import Config

    config = Config(database_url=database_url, secret_key="t")
    migrate(config)
    services = bootstrap(config, SystemClock())
    try:
        keys = json.loads(run(database_url, "app", "create", "Acme", cwd=tmp_path).stdout)
        for n in range(30):
            ping(services, keys["app_id"], {"user_id": f"u{n % 4}"})
        services.runner.catch_up()
        rebuilt = run(database_url, "projections", "rebuild", cwd=tmp_path)
        assert rebuilt.returncode == 0, rebuilt.stderr
        head = services.store.head()
        assert f"users: rebuilt from the log up to position {head}" in rebuilt.stdout
        assert run(database_url, "projections", "rebuild", "nope", cwd=tmp_path).returncode != 0
        engine = make_engine(database_url)
        with engine.connect() as conn:
            impressions = conn.execute(select(users.c.impressions)).scalars().all()
        engine.dispose()
        assert sorted(impressions) == [7, 7, 8, 8]
        out = tmp_path / "events.jsonl"
        exported = run(database_url, "events", "export", "--output", str(out), cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert [e["position"] for e in lines] == list(range(1, services.store.head() + 1))
        assert sum(e["topic"].endswith("User.Seen") for e in lines) == 30
        tail = run(
            database_url, "events", "export", "--since", str(lines[-3]["position"]), cwd=tmp_path
        )
        assert [json.loads(x)["position"] for x in tail.stdout.splitlines()] == [
            e["position"] for e in lines[-2:]
        ]
    finally:
        services.close()


def test_demo_creates_one_app_and_prints_it_again_on_every_run(
    database_url: str, tmp_path: Path
) -> None:
    assert run(database_url, "migrate", cwd=tmp_path).returncode == 0
    first = run(database_url, "demo", "--users", "40", cwd=tmp_path)
    again = run(database_url, "demo", cwd=tmp_path)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    saved = json.loads((tmp_path / "var" / "demo.json").read_text())
    for shown in (first.stdout, again.stdout):
        assert saved["app_id"] in shown and saved["api_key"] in shown
        assert f'app_id: "{saved["app_id"]}"' in shown  # the snippet is filled in
        assert "/widget.js" in shown
    store = Parley(database_url)
    try:
        app: App = store.repository.get(app_key(saved["app_id"]))
        assert app.accepts_api_key(saved["api_key"])
        assert [a["email"] for a in app.admins.values()] == ["admin@example.com"]
        apps = [n for n in store.recorder.select_notifications(1, 100) if "App.Created" in n.topic]
        assert len(apps) == 1
    finally:
        store.close()


def test_the_worker_needs_redis_and_stops_cleanly_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    import signal
    import time

    run(database_url, "migrate", cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    refused = subprocess.run(
        [PARLEY, "worker"],
        env={**env, "DATABASE_URL": database_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "REDIS_URL is not set" in refused.stderr
    worker = subprocess.Popen(
        [PARLEY, "worker", "--threads", "1"],
        env={**env, "DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:6379/0"},
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        assert "parley worker: 1 threads" in worker.stderr.readline()
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_parley_inbound_takes_email_for_an_apps_address_over_smtp(
    database_url: str, tmp_path: Path
) -> None:
    import signal
    import smtplib
    import time
    from email.message import EmailMessage

    from commands.conversations import load_conversation
    from domain.inbound import InboundEmail, inbound_key
    from tests.helpers import free_port

    run(database_url, "migrate", cwd=tmp_path)
    keys = json.loads(run(database_url, "app", "create", "Acme", cwd=tmp_path).stdout)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    server = subprocess.Popen(
        [PARLEY, "inbound"],
        env={
            **env,
            "DATABASE_URL": database_url,
            "INBOUND_PORT": str(port),
            "INBOUND_DOMAIN": "in.acme.test",
            "SWEEP_SECONDS": "0",
            "OUTBOX_DIR": str(tmp_path / "outbox"),
        },
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        assert f"SMTP on 127.0.0.1:{port}" in server.stderr.readline()
        message = EmailMessage()
        message["From"] = "Jo <jo@example.org>"
        message["To"] = f"{keys['app_id']}@in.acme.test"
        message["Subject"] = "Help"
        message["Message-ID"] = "<first@example.org>"
        message.set_content("The export is empty.")
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                    smtp.send_message(message)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    store = Parley(database_url)
    try:
        received = store.get_as(
            InboundEmail, inbound_key(keys["app_id"], "<first@example.org>", "jo@example.org")
        )
        assert received is not None and received.sender == "jo@example.org"
        started = load_conversation(store, keys["app_id"], received.conversation_id)
        assert started.body == "The export is empty." and started.via == "email"
    finally:
        store.close()


def test_an_export_is_one_apps_history_without_its_secrets(
    database_url: str, tmp_path: Path
) -> None:
    from commands.clock import SystemClock
    from tests.helpers import ping
    from web.bootstrap import bootstrap, migrate
    from web.config import Config

    config = Config(database_url=database_url, secret_key="t")
    migrate(config)
    services = bootstrap(config, SystemClock())
    try:
        acme = json.loads(run(database_url, "app", "create", "Acme", cwd=tmp_path).stdout)
        beta = json.loads(run(database_url, "app", "create", "Beta", cwd=tmp_path).stdout)
        ping(services, acme["app_id"], {"email": "ann@acme.io"})
        ping(services, acme["app_id"], {"email": "ann@acme.io", "user_id": "ann"})  # an alias
        ping(services, beta["app_id"], {"user_id": "bob"})
        ping(services, acme["app_id"], {"user_id": "ann"})
        refused = run(database_url, "events", "export", cwd=tmp_path)
        assert refused.returncode == 2 and "name one with --app" in refused.stderr
        exported = run(database_url, "events", "export", "--app", acme["app_id"], cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        for secret in (acme["secret"], beta["secret"], hash_api_key(acme["api_key"])):
            assert secret not in exported.stdout
        lines = [json.loads(line) for line in exported.stdout.splitlines()]
        (created,) = [e for e in lines if e["topic"].endswith("App.Created")]
        assert created["state"]["secret"] == created["state"]["api_key_hash"] == "[redacted]"
        assert created["state"]["name"] == "Acme"
        assert {e["app_id"] for e in lines} == {acme["app_id"]}
        assert sum(e["topic"].endswith("User.Seen") for e in lines) == 3
        assert any(e["topic"].endswith("Alias.Created") for e in lines)
        assert "bob" not in exported.stdout
        # Every Acme event is there, and only those: Beta's are what the whole log has more.
        beta_only = run(database_url, "events", "export", "--app", beta["app_id"], cwd=tmp_path)
        assert len(lines) + len(beta_only.stdout.splitlines()) == services.store.head()
        seen = run(
            database_url, "events", "export", "--app", acme["app_id"], "--type", "User.Seen",
            "--since", str(lines[1]["position"]), cwd=tmp_path,
        )  # fmt: skip
        positions = [json.loads(x)["position"] for x in seen.stdout.splitlines()]
        expected = [e["position"] for e in lines if e["topic"].endswith("User.Seen")]
        assert positions == [p for p in expected if p > lines[1]["position"]]
        first, second = lines[0]["position"], lines[1]["position"]
        upto = run(
            database_url, "events", "export", "--app", acme["app_id"], "--until", str(second),
            cwd=tmp_path,
        )  # fmt: skip
        assert [json.loads(x)["position"] for x in upto.stdout.splitlines()] == [first, second]
        for later in ("--since", "2999-01-01T00:00:00"), ("--until", "2000-01-01"):
            nothing = run(
                database_url, "events", "export", "--app", acme["app_id"], *later, cwd=tmp_path
            )
            assert nothing.returncode == 0 and nothing.stdout == ""
        topics = run(
            database_url, "events", "export", "--app", acme["app_id"],
            "--type", "domain.user:User.Seen", "--type", "Bogus", cwd=tmp_path,
        )  # fmt: skip
        assert [json.loads(x)["position"] for x in topics.stdout.splitlines()] == expected
        assert "no 'Bogus' event in this export" in topics.stderr
        bad = run(database_url, "events", "export", "--since", "yesterday", cwd=tmp_path)
        assert bad.returncode == 2 and "neither a log position nor an ISO 8601 date" in bad.stderr
    finally:
        services.close()
