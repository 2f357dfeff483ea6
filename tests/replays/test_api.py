"""The replay API: POST /api/workflows/{id}/replays/ with a selection (4xx naming the field), GET the report."""

import pytest
from rest_framework.test import APIClient

from replays.models import Replay
from tests.factories import VIEWERS, EditorFactory, UserFactory
from workflows.services import workflow_snapshot

from .factories import replay_with_report, workflow_with_history

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def history():
    editor = EditorFactory(is_staff=True)
    workflow, runs = workflow_with_history(owner=editor)
    return workflow, runs, editor


def test_posting_a_selection_queues_a_replay_of_the_matching_runs(history, django_capture_on_commit_callbacks):
    workflow, runs, editor = history
    with django_capture_on_commit_callbacks() as hints:  # the worker's part is not run here
        answer = client_for(editor).post(f"/api/workflows/{workflow.pk}/replays/", {"last": 2}, format="json")
    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert body["status"] == "queued" and body["total"] == 2 and body["draft_version"] == 2
    assert body["base_version"] == 1 and body["requested_by"] == editor.username
    assert body["url"] == f"/api/replays/{body['id']}/"
    replay = Replay.objects.get(pk=body["id"])
    assert set(replay.items.values_list("original_execution", flat=True)) == {runs[2].pk, runs[1].pk}
    assert len(hints) == 1  # the outbox row's hint: a worker starts the runs


def test_failed_runs_only(history, django_capture_on_commit_callbacks):
    workflow, runs, editor = history
    with django_capture_on_commit_callbacks():
        answer = client_for(editor).post(f"/api/workflows/{workflow.pk}/replays/", {"failed": True}, format="json")
    replay = Replay.objects.get(pk=answer.json()["id"])
    assert list(replay.items.values_list("original_execution", flat=True)) == [runs[0].pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last": 0}, "last"),
        ({"last": "many"}, "last"),
        ({"status": ["running"]}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2030-01-02", "until": "2030-01-01"}, "until"),
        ({"executions": ["x"]}, "executions"),
        ({"executions": [999999]}, "executions"),
        ({"colour": "red"}, "colour"),
        ({"trigger": "web hook!"}, "trigger"),
        ({"since": "2000-01-01", "until": "2000-01-02"}, "selection"),
        (["last", 3], "selection"),
    ],
)
def test_a_bad_selection_is_a_400_naming_the_field(history, body, field):
    workflow, runs, editor = history
    answer = client_for(editor).post(f"/api/workflows/{workflow.pk}/replays/", body, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()
    assert not Replay.objects.exists()


def test_a_draft_equal_to_the_active_version_is_a_400_naming_the_workflow(history):
    workflow, runs, editor = history
    from workflows.services import workflow_activate

    workflow_activate(workflow=workflow, user=editor)
    answer = client_for(editor).post(f"/api/workflows/{workflow.pk}/replays/", {}, format="json")
    assert answer.status_code == 400 and "workflow" in answer.json()


def test_the_report_shows_each_run_side_by_side_with_the_differences(history):
    workflow, runs, editor = history
    replay = replay_with_report(workflow, runs, editor, workflow_snapshot(workflow=workflow))
    body = client_for(editor).get(f"/api/replays/{replay.pk}/").json()
    assert body["summary"]["total"] == 3 and body["summary"]["fixed"] == 1 and body["summary"]["different"] == 2
    item = next(i for i in body["items"] if i["original_execution"] == runs[1].pk)
    assert item["verdict"] == "different"
    assert {"kind": "value", "step": "wrap_up", "field": "input.message", "from": "bye", "to": "see you"} in item[
        "differences"
    ]
    assert [s["key"] for s in item["original"]["steps"]] == ["greet", "wrap_up"]
    assert item["replayed"]["steps"][1]["output"] == {"message": "see you"}
    listed = client_for(editor).get(f"/api/workflows/{workflow.pk}/replays/").json()
    assert [r["id"] for r in listed] == [replay.pk]


def test_viewers_see_reports_but_may_not_replay_and_strangers_see_nothing(history):
    workflow, runs, editor = history
    replay = replay_with_report(workflow, runs, editor, workflow_snapshot(workflow=workflow))
    viewer = UserFactory(is_staff=True, roles=[VIEWERS])
    assert client_for(viewer).get(f"/api/replays/{replay.pk}/").status_code == 200
    assert client_for(viewer).post(f"/api/workflows/{workflow.pk}/replays/", {}, format="json").status_code == 403
    stranger = UserFactory(is_staff=True)
    assert client_for(stranger).get(f"/api/replays/{replay.pk}/").status_code == 404
    assert client_for(stranger).get("/api/replays/").json()["count"] == 0
