"""Screenshots of FAOS' main pages at 1280×800 into docs/screenshots/, with Playwright and Debian's Chromium.

Usage (DATABASE_URL migrated, as `make setup` leaves it):
    .venv/bin/python bench/screenshots.py
seeds demo data once (templates, the demo workflow, runs, a refund waiting for approval, a task), starts
`manage.py runserver` on a free port, logs in as the user `screens` and saves one PNG per page, then stops the
server. Against a server that is already running with its own data (nothing is seeded):
    .venv/bin/python bench/screenshots.py --url http://127.0.0.1:8000 --username admin --password …
"""

import argparse
import contextlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
USER = "screens"
URGENT_TICKET = {
    "ticket": {
        "id": "4712",
        "subject": "Checkout is down for all customers",
        "description": "Urgent: checkout fails with an error since 9:00 and we are losing orders.",
        "requester": {"name": "Bo Chen", "email": "bo@example.com"},
    }
}


def seed() -> str:
    """Demo data for the pages (once: runs only when there are none yet); returns a fresh password for `screens`."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from executions.models import Execution
    from workflows.models import Workflow

    call_command("load_templates", verbosity=0)
    call_command("load_demo", verbosity=0)
    password = secrets.token_urlsafe(12)
    user = User.objects.filter(username=USER).first() or User(username=USER, email="screens@example.com")
    user.first_name, user.is_staff, user.is_superuser = "Sam", True, True
    user.set_password(password)
    user.save()
    for name in ("Support", "Managers"):  # the groups the templates assign tasks and approvals to
        Group.objects.get_or_create(name=name)[0].user_set.add(user)
    if not Execution.objects.exists():
        logging.disable(logging.INFO)  # the runs' step logs and console e-mails are not this script's output
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            _runs()
        logging.disable(logging.NOTSET)
        Workflow.objects.filter(owner=None).update(owner=user)  # the demo and the templates' drafts: Sam's
    return password


def _runs() -> None:
    """Live runs of the demo, test runs of two templates (one waits for a manager), one open task."""
    import json
    import tempfile

    from django.core.management import CommandError, call_command

    from executions.models import Execution
    from executions.tasks_service import task_create

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as urgent:
        json.dump(URGENT_TICKET, urgent)
    runs = [
        ("Demo: Welcome a new customer", []),
        ("Support Ticket Escalation", ["--test"]),
        ("Support Ticket Escalation", ["--test", "--input", urgent.name]),
        ("Refund Approval", ["--test"]),  # over $100: stops at the manager's approval
    ]
    for name, options in runs:
        try:
            call_command("run_workflow", name, "--inline", "--timeout", "5", *options)
        except CommandError as exc:  # the refund is still waiting: that is the point
            print(f"{name}: {exc}", file=sys.stderr)
    _history()
    task_create(
        request={
            "title": "[HIGH] Ticket 4712: Checkout is down for all customers",
            "description": URGENT_TICKET["ticket"]["description"],
            "group": "Support",
            "due": "4h",
            "checklist": ["Reply to the customer", "Update the ticket"],
        },
        execution=Execution.objects.filter(workflow__name="Support Ticket Escalation").order_by("-pk").first(),
    )


def _history(days: int = 12) -> None:
    """A live demo run a day for the dashboard's chart: run now, then dated back one day each (as if daily)."""
    from datetime import timedelta

    from django.core.management import call_command

    from executions.models import Execution

    for _ in range(days):
        call_command("run_workflow", "Demo: Welcome a new customer", "--inline", "--timeout", "5")
    runs = Execution.objects.filter(workflow__name="Demo: Welcome a new customer", is_test=False).order_by("-pk")
    for back, run in enumerate(runs[:days]):
        shift = timedelta(days=back, hours=back % 5)
        Execution.objects.filter(pk=run.pk).update(
            created_at=run.created_at - shift, started_at=run.started_at - shift, finished_at=run.finished_at - shift
        )


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    manage = [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"]
    env = {**os.environ, "DEBUG": "1"}  # runserver over plain HTTP: production settings would redirect to HTTPS
    server = subprocess.Popen(manage, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/admin/login/", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not answer on /admin/login/ within 20 s")


def first_link(page, list_path: str) -> None:
    """Open the first row of a list (the page stays on the list when it is empty)."""
    page.goto(list_path)
    link = page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first
    if link.count():
        link.click()
        page.wait_for_load_state()


def shoot(url: str, username: str, password: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    pages = [
        ("admin-index", lambda p: p.goto(f"{url}/admin/")),
        ("dashboard", lambda p: p.goto(f"{url}/admin/dashboard/")),
        ("workflows", lambda p: p.goto(f"{url}/admin/workflows/workflow/")),
        ("workflow", lambda p: first_link(p, f"{url}/admin/workflows/workflow/?q=Support+Ticket+Escalation")),
        ("executions", lambda p: p.goto(f"{url}/admin/executions/execution/")),
        ("execution", lambda p: first_link(p, f"{url}/admin/executions/execution/?q=Support+Ticket")),
        ("approvals-inbox", lambda p: p.goto(f"{url}/admin/executions/approval/?status__exact=pending")),
        ("tasks", lambda p: p.goto(f"{url}/admin/executions/task/?status__exact=open")),
        ("integrations", lambda p: p.goto(f"{url}/admin/integrations/connection/services/")),
    ]
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        for name, go in pages:
            go(page)
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path))
            saved.append(path)
            print(f"{path.relative_to(ROOT)}  ←  {page.title()}")
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (nothing is seeded); default: start one on a free port")
    parser.add_argument("--username", default=USER)
    parser.add_argument("--password", help="needed with --url")
    args = parser.parse_args()
    if args.url:
        if not args.password:
            parser.error("--password: needed with --url")
        shoot(args.url.rstrip("/"), args.username, args.password)
        return
    password = seed()
    server, url = start_server()
    try:
        shoot(url, USER, password)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
