"""The admin's Replay history: the button on the workflow page, the pick form and the side-by-side report."""

import pytest
from django.urls import reverse

from replays.models import Replay
from tests.factories import VIEWERS, EditorFactory, UserFactory
from workflows.services import workflow_snapshot

from .factories import replay_with_report, workflow_with_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(client):
    editor = EditorFactory(is_staff=True)
    workflow, runs = workflow_with_history(owner=editor)
    client.force_login(editor)
    return workflow, runs, editor


def test_the_workflow_page_offers_replay_history_to_its_editors_only(client, history):
    workflow, runs, editor = history
    page = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    pick = reverse("admin:workflows_workflow_replay", args=[workflow.pk])
    assert pick in client.get(page).content.decode()
    client.force_login(UserFactory(is_staff=True, roles=[VIEWERS]))
    assert pick not in client.get(page).content.decode()
    assert client.get(pick).status_code == 403


def test_the_pick_page_lists_the_drafts_changes_and_recent_runs(client, history):
    workflow, runs, editor = history
    text = client.get(reverse("admin:workflows_workflow_replay", args=[workflow.pk])).content.decode()
    assert "Step <code>wrap_up</code> changed" in text
    assert all(f'value="{run.pk}"' in text for run in runs)


def test_picking_runs_replays_them_and_opens_the_report(client, history, django_capture_on_commit_callbacks):
    workflow, runs, editor = history
    url = reverse("admin:workflows_workflow_replay", args=[workflow.pk])
    with django_capture_on_commit_callbacks():
        answer = client.post(url, {"mode": "pick", "last": 20, "executions": [runs[0].pk, runs[2].pk]})
    replay = Replay.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:workflows_workflow_replayreport", args=[workflow.pk, replay.pk])
    assert set(replay.items.values_list("original_execution", flat=True)) == {runs[0].pk, runs[2].pk}
    report = client.get(answer["Location"]).content.decode()
    assert 'http-equiv="refresh"' in report and "0 of 2 run(s) compared" in report  # progress, refreshing


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"mode": "pick", "last": 20}, "Tick at least one run."),
        ({"mode": "last", "last": 0}, "Ensure this value is greater than or equal to 1."),
        ({"mode": "filter", "last": 5, "since": "2000-01-01", "until": "2000-01-02"}, "No finished live run"),
    ],
)
def test_a_bad_pick_is_a_form_error_and_starts_nothing(client, history, data, error):
    workflow, runs, editor = history
    answer = client.post(reverse("admin:workflows_workflow_replay", args=[workflow.pk]), data)
    assert answer.status_code == 200 and error in answer.content.decode()
    assert not Replay.objects.exists()


def test_the_report_puts_each_run_side_by_side_and_highlights_what_differs(client, history):
    workflow, runs, editor = history
    replay = replay_with_report(workflow, runs, editor, workflow_snapshot(workflow=workflow))
    url = reverse("admin:workflows_workflow_replayreport", args=[workflow.pk, replay.pk])
    text = client.get(url).content.decode()
    assert "Different <b>2</b>" in text and "Fixed <b>1</b>" in text and 'http-equiv="refresh"' not in text
    assert "wrap_up input.message: &quot;see you&quot; (was &quot;bye&quot;)" in text
    assert 'class="faos-io faos-hl"' in text
    only_fixed = client.get(url + "?verdict=fixed").content.decode()
    assert only_fixed.count('class="faos-replay-item') == 1


def test_viewers_may_read_a_report_and_strangers_may_not(client, history):
    workflow, runs, editor = history
    replay = replay_with_report(workflow, runs, editor, workflow_snapshot(workflow=workflow))
    url = reverse("admin:workflows_workflow_replayreport", args=[workflow.pk, replay.pk])
    client.force_login(UserFactory(is_staff=True, roles=[VIEWERS]))
    assert client.get(url).status_code == 200
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 404
