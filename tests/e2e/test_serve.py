"""`parley serve` runs gunicorn (not Flask's development server) and answers real requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import free_port

PARLEY = str(Path(sys.executable).parent / "parley")


def test_serve_runs_gunicorn_with_the_widget_and_health(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "PORT": str(port),
        "WEB_WORKERS": "2",
        "SECRET_KEY": "s",
    }
    subprocess.run([PARLEY, "migrate"], env=env, cwd=tmp_path, check=True, capture_output=True)
    keys = json.loads(
        subprocess.run(
            [PARLEY, "app", "create", "Served"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    server = subprocess.Popen(
        [PARLEY, "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert "gunicorn" in health.headers.get("Server", "")
        body = json.dumps({"app_id": keys["app_id"], "user": {"user_id": "1"}}).encode()
        for _ in range(4):  # spread over both workers
            request = urllib.request.Request(f"{base}/widget/ping", data=body, method="POST")
            assert urllib.request.urlopen(request, timeout=10).status == 200
        deadline = time.monotonic() + 10
        while True:
            state = json.load(urllib.request.urlopen(f"{base}/health", timeout=2))
            if state["projections"]["users"]["lag"] == 0:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state["event_store"]["head"] >= 4
        # The runner beside gunicorn (projections and reactions) is started again when it dies.
        (runner,) = runner_pids(str(tmp_path))
        os.kill(runner, signal.SIGKILL)
        body = json.dumps({"app_id": keys["app_id"], "user": {"user_id": "after"}}).encode()
        request = urllib.request.Request(f"{base}/widget/ping", data=body, method="POST")
        assert urllib.request.urlopen(request, timeout=10).status == 200
        deadline = time.monotonic() + 30
        while True:
            state = json.load(urllib.request.urlopen(f"{base}/health", timeout=2))
            lags = [state["projections"]["users"]["lag"], state["reactions"]["reactions"]["lag"]]
            if lags == [0, 0]:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert runner_pids(str(tmp_path)) not in ([], [runner])
    finally:
        server.terminate()
        server.wait(timeout=30)


def runner_pids(folder: str) -> list[int]:
    """The live `projections run` processes started in this folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            where = os.readlink(entry / "cwd")
            status = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if b"projections" in command and b"run" in command and where == folder and status != "Z":
            found.append(int(entry.name))
    return found
