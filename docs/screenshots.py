"""The README's dashboard screenshots, made from the demo data: `make screenshots`.

Does what `make run` does in a temporary folder (parley migrate, parley demo, parley serve on
a free port), signs in as the demo teammate with the password `parley demo` printed, and
saves each main page, 1280 px wide, as docs/dashboard-*.png (Debian's Chromium).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

DOCS = Path(__file__).parent
PARLEY = Path(sys.executable).parent / "parley"
WIDTH = 1280


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("parley serve stopped")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                health = json.load(answer)
            if all(p["lag"] == 0 for p in health["projections"].values()):
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("parley serve did not catch up in 60 s")


def shoot(page: Page, name: str, prepare: Callable[[Page], None] | None = None) -> None:
    if prepare:
        prepare(page)
    # Each page keeps its live stream open, so the network never goes idle: wait for the
    # page, and for the navigation's unread count, its last request.
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => { const link = document.getElementById('inbox-link');"
        " return !link || link.dataset.unread !== ''; }"
    )
    target = DOCS / f"dashboard-{name}.png"
    page.screenshot(path=str(target), full_page=False)
    print(f"wrote {target.relative_to(DOCS.parent)}")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/parley.db",
            "SECRET_KEY": "screenshots",
            "PORT": str(port),
            "OUTBOX_DIR": f"{folder}/outbox",
        }

        def parley(*args: str) -> str:
            done = subprocess.run(
                [str(PARLEY), *args],
                cwd=folder,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            return done.stdout

        parley("migrate")
        printed = parley("demo")
        app_id = re.search(r"app_id:\s+(\w+)", printed)
        password = re.search(r"password (\S+),", printed)
        if not app_id or not password:
            raise SystemExit(f"parley demo printed no app or password:\n{printed}")
        log = open(Path(folder) / "serve.log", "wb")  # noqa: SIM115 (closed with the server)
        server = subprocess.Popen(
            [str(PARLEY), "serve"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server)
            take(base, app_id.group(1), password.group(1))
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
    return 0


def take(base: str, app_id: str, password: str) -> None:
    home = f"{base}/apps/{app_id}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(f"{base}/signin")
        shoot(page, "signin")
        page.get_by_label("Email").fill("admin@example.com")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{home}/users")
        shoot(page, "users")

        def filtered(page: Page) -> None:
            page.get_by_role("button", name="+ Add condition").click()
            page.get_by_label("Condition 1: attribute").select_option("custom.plan")
            page.get_by_label("Condition 1: value").fill("pro")
            page.get_by_role("button", name="+ Add condition").click()
            page.get_by_label("Condition 2: attribute").select_option("last_seen_at")
            page.get_by_label("Condition 2: operator").select_option("less_than_days_ago")
            page.get_by_label("Condition 2: value").fill("7")
            page.get_by_role("button", name="Apply filter").click()
            page.wait_for_url("**filter=**")
            page.locator(".save-segment summary").click()

        shoot(page, "filter", filtered)
        page.goto(f"{home}/users?sort=last_seen_at&order=desc")
        page.get_by_role("complementary").get_by_role("link", name="VIP").click()
        page.wait_for_url("**filter=**")
        page.locator("td.name a").first.click()
        page.wait_for_url(f"{home}/users/*")
        shoot(page, "profile")
        page.locator("#activity").scroll_into_view_if_needed()
        shoot(page, "activity")
        page.goto(f"{home}/companies?sort=monthly_spend&order=desc")
        shoot(page, "companies")
        page.locator("tbody td a").first.click()
        page.wait_for_url(f"{home}/companies/*")
        shoot(page, "company")
        page.goto(f"{home}/tags")
        shoot(page, "tags")
        page.goto(f"{home}/settings")
        shoot(page, "settings")
        page.goto(f"{home}/settings/inbox")
        shoot(page, "settings-inbox", lambda page: page.get_by_label("Simple").check())
        page.goto(f"{home}/settings/teammates")
        shoot(page, "teammates")
        page.goto(f"{home}/messages")
        shoot(page, "messages")

        def composed(page: Page) -> None:
            page.get_by_role("radio", name="Email").check()
            page.get_by_label("Subject").fill('News for {{ first_name | fallback:"you" }}')
            page.locator("#body").fill(
                'Hey {{ first_name | fallback:"there" }},\n\nTeam workspaces are here: '
                "**invite your whole team** and share projects.\n\n"
                "[Try them](https://app.example.com/teams)"
            )
            page.locator("#body").press("End")
            page.locator(".email-frame").wait_for()
            page.wait_for_timeout(800)  # the debounced preview

        page.goto(f"{home}/users")
        page.locator("#bulk input[value=all]").check()
        page.get_by_role("button", name="Manual Message").click()
        page.wait_for_url(f"{home}/messages/new*")
        shoot(page, "composer", composed)
        page.goto(f"{home}/inbox?view=all")
        page.locator("#inbox-list a[data-conversation]").first.click()
        page.wait_for_url(f"{home}/inbox/*")
        shoot(
            page,
            "inbox",
            lambda page: page.get_by_label("Your reply or note").fill(
                "Thanks for the details! I've **reset the export** on our side; try again now?"
            ),
        )
        # The API reference Parley serves (made from its OpenAPI document).
        page.goto(f"{base}/docs#post_users")
        target = DOCS / "api-docs.png"
        page.screenshot(path=str(target))
        print(f"wrote {target.relative_to(DOCS.parent)}")
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
