"""Browser tests: Debian's Chromium driven by Playwright against a live server; screenshots under artifacts/."""

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import fake_server, start_worker  # noqa: F401 - fixtures shared with the e2e tests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the process (its driver and launch cost ~2 s here); each test gets a context of its own."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API keeps an event loop set in this thread from here on: Django's ORM would refuse to run
    # beside it. Nothing in the suite is async (no async views or middleware), so nothing else minds it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page in a context of its own: no cookie, storage or cache of an earlier test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def shot(page, name: str, *, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def goto(page, url: str) -> None:
    """Open `url` from a page that may be reloading itself (a run's page refreshes every 2 s while the run is
    unfinished): a refresh that fires at that moment aborts the navigation, so it is tried once more."""
    from playwright.sync_api import Error

    try:
        page.goto(url)
    except Error as exc:
        if "ERR_ABORTED" not in str(exc):
            raise
        page.goto(url)


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def connect(page, base_url: str, service: str, credentials: dict) -> None:
    """Integrations → Connect → fill the service's fields → Save → Test connection → OK."""
    page.goto(f"{base_url}/admin/integrations/connection/services/")
    page.click(f'[data-service="{service}"] a.button:has-text("Connect")')
    page.wait_for_url(f"**/connection/add/?service={service}")
    for field, value in credentials.items():
        page.fill(f"#id_cred_{field}", value)
    page.click("input[name=_save]")
    page.click("#faos-test-connection")
    page.wait_for_selector(f".messagelist .success:has-text('{service}: default: OK')")


STEP_FORMS_LOADED = "!document.querySelector('#steps-group .faos-lazy')"


def open_steps(page) -> None:
    """Unfold every step of the workflow page (saved steps open folded to their title bar; their forms load)."""
    page.click("#steps-group .faos-step-tools button:has-text('Open all')")
    page.wait_for_function(STEP_FORMS_LOADED)


def wait_for_focus(page, name: str) -> None:
    """Wait until the field named `name` has the focus (a folded step's form loads before it is focused)."""
    page.wait_for_function("name => document.activeElement && document.activeElement.name === name", arg=name)


def open_section(page, group: str) -> None:
    """Open a folded section of the workflow page, e.g. "#triggers-group" (a no-op when it is open)."""
    page.locator(f"{group} details").first.evaluate("details => { details.open = true; }")
