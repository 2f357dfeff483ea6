"""The trigger editor in a real browser: a schedule added through its form previews its next five runs as the cron
and time zone are typed, another trigger becomes a signed webhook; the saved rows and the Beat task follow."""

from pathlib import Path

import pytest
from django_celery_beat.models import PeriodicTask

from tests.browser.conftest import ARTIFACTS, login, open_section, shot
from tests.factories import TriggerFactory, workflow_with_steps
from workflows.models import Trigger

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = ARTIFACTS / "docs"  # copied into docs/screenshots by hand when it changes
STEPS = [{"key": "remind", "name": "Send Reminders", "config": {"action": "log", "inputs": {"message": "due"}}}]


def field(page, row: str, path: str):
    """The generated input for a config field of one trigger row."""
    return page.locator(f'#{row} [data-path="{path}"]').locator("input, textarea, select").first


def triggers_shot(page, path: Path) -> None:
    """The Triggers section of the page, as the README shows it."""
    page.locator("#triggers-group").screenshot(path=str(path))


def test_schedule_and_webhook_triggers_from_their_forms(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    workflow = workflow_with_steps(STEPS, name="Invoice Reminders")
    hook = TriggerFactory(workflow=workflow, kind="manual", name="Reminder requested")
    login(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}/admin/workflows/workflow/{workflow.pk}/change/")
    open_section(page, "#triggers-group")  # folded under the steps
    assert page.locator("#triggers-0 textarea.faos-trigger-json").is_hidden()  # the form replaces the raw JSON
    assert "Nothing to set" in page.inner_text("#triggers-0 .faos-editor")

    # a new schedule trigger: the preview lists the next five runs in Berlin time while the fields are typed
    page.click("#triggers-group .add-row a")
    page.select_option("select[name=triggers-1-kind]", "schedule")
    page.fill("input[name=triggers-1-name]", "Weekday mornings")
    field(page, "triggers-1", "cron").fill("0 9 * * 1-")
    page.wait_for_selector("#triggers-1 .faos-preview.faos-preview-bad")
    assert page.locator('#triggers-1 [data-path="cron"].faos-invalid').count() == 1
    assert "config.cron: '0 9 * * 1-' is not a valid cron" in page.inner_text("#triggers-1 .faos-preview")
    page.locator("#triggers-1 .faos-editor").screenshot(path=str(ARTIFACTS / "trigger-editor-error.png"))
    field(page, "triggers-1", "cron").fill("0 9 * * 1-5")
    field(page, "triggers-1", "timezone").fill("Europe/Berlin")
    page.wait_for_function(
        "[...document.querySelectorAll('#triggers-1 .faos-runs li')].length === 5 && "
        "document.querySelector('#triggers-1 .faos-runs li').textContent.includes('CE')"
    )
    runs = page.locator("#triggers-1 .faos-runs li").all_inner_texts()
    assert all("09:00 CE" in run for run in runs) and not any(run.startswith(("Sat", "Sun")) for run in runs)
    assert page.locator('#triggers-1 [data-path="cron"].faos-invalid').count() == 0

    # the first trigger becomes a webhook checked with an HMAC signature; its secret goes in New secret
    page.select_option("select[name=triggers-0-kind]", "webhook")
    page.select_option("#triggers-0-cfg-auth", "hmac_sha256")
    assert page.locator('#triggers-0 [data-path="header"]').count() == 1  # the header applies to HMAC
    page.fill("input[name=triggers-0-new_secret]", "whsec-browser-test")
    field(page, "triggers-0", "filter").fill('trigger.type == "invoice.due"')
    shot(page, "trigger-editor")
    page.click('input[name="_continue"]')
    page.wait_for_selector(".messagelist .success")

    hook.refresh_from_db()
    assert hook.kind == "webhook" and hook.secrets == ["whsec-browser-test"]
    assert hook.config == {"auth": "hmac_sha256", "filter": 'trigger.type == "invoice.due"'}
    schedule = Trigger.objects.get(workflow=workflow, kind="schedule")
    assert schedule.name == "Weekday mornings" and schedule.config == {
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
    }
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "workflows.tasks.fire_schedule" and task.enabled
    assert (task.crontab.hour, task.crontab.day_of_week, str(task.crontab.timezone)) == ("9", "1-5", "Europe/Berlin")

    # after the save: the webhook's URL with its copy button, the schedule's form and preview again
    open_section(page, "#triggers-group")
    assert f"/api/hooks/{hook.token}/" in page.inner_text("#triggers-0")
    page.wait_for_function("document.querySelectorAll('#triggers-1 .faos-runs li').length === 5")
    shot(page, "trigger-editor-saved")
    DOCS.mkdir(parents=True, exist_ok=True)
    triggers_shot(page, DOCS / "trigger-editor.png")
    triggers_shot(page, ARTIFACTS / "trigger-editor-section.png")
    page.emulate_media(color_scheme="dark")
    triggers_shot(page, ARTIFACTS / "trigger-editor-dark.png")
