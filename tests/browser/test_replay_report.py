"""Replay history in a real browser: from the workflow page, pick the last runs, replay them through the draft and
read the side-by-side report (the run the draft changes is open, its different branch highlighted)."""

import pytest
from django.urls import reverse

from tests.browser.conftest import login, shot
from tests.replays.conftest import refund_history  # noqa: F401 - the fixture: a refund workflow and its past runs
from tests.replays.factories import set_threshold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_editor_replays_the_last_runs_and_reads_what_the_draft_would_change(live_server, page, refund_history):  # noqa: F811
    workflow, editor, runs = refund_history
    editor.set_password("pw-eddie-123")
    editor.save()
    set_threshold(workflow, 200)  # the draft: a manager is asked only above 200
    login(page, live_server.url, "eddie", "pw-eddie-123")
    page.goto(live_server.url + reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    page.click("a.faos-replay")
    page.wait_for_selector("#replay-form")
    assert "Step check_amount changed" in page.inner_text(".faos-replay-changes")
    page.check("input[name=mode][value=last]")
    page.fill("#id_last", "10")
    page.click("input[name=_replay]")

    page.wait_for_selector(".faos-replay-report[data-status=finished]")
    assert "Finished: 4 run(s) replayed." in page.inner_text("#replay-progress")
    summary = page.inner_text("#replay-summary")
    assert "Same 3" in summary and "Different 1" in summary and "Newly failing 0" in summary
    changed = page.locator("details.faos-v-different")
    assert changed.count() == 1 and changed.get_attribute("open") is not None  # what changed is shown open
    assert f"#{runs[150].pk}" in changed.locator("summary").inner_text()
    check = changed.locator("tr[data-step=check_amount]")
    assert "faos-changed" in check.get_attribute("class")
    assert check.locator(".faos-new .faos-branch.faos-hl").inner_text() == "→ false"
    assert "check_amount took branch false (was true)" in check.locator(".faos-notes").inner_text()
    approval = changed.locator("tr[data-step=manager_approval]")
    assert approval.locator(".faos-new").inner_text().strip() == "did not run"
    assert page.locator("details.faos-v-same[open]").count() == 0  # the unchanged runs stay folded
    shot(page, "replay_report")

    page.click("#replay-summary a:has-text('Different')")
    page.wait_for_url(lambda url: url.endswith("?verdict=different"))
    assert page.locator("details.faos-replay-item").count() == 1
