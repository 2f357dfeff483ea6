"""Starting a replay's runs (the worker's part), without running them: what cannot start is counted, not lost."""

import pytest

from replays.models import Replay, ReplayItem
from replays.services import replay_start
from tests.factories import UserFactory
from workflows.services import workflow_snapshot

from .factories import workflow_with_history

pytestmark = pytest.mark.django_db


def test_a_run_whose_original_is_gone_is_not_started_and_the_replay_still_finishes():
    workflow, runs = workflow_with_history(runs=1)
    replay = Replay.objects.create(workflow=workflow, draft_version=workflow_snapshot(workflow=workflow), total=1)
    ReplayItem.objects.create(replay=replay, original_execution=None)
    assert replay_start(replay_id=replay.pk) == 0
    replay.refresh_from_db()
    assert replay.status == "finished" and replay.summary["not_started"] == 1


def test_a_requester_who_lost_the_run_right_gets_could_not_start_naming_why(django_capture_on_commit_callbacks):
    workflow, runs = workflow_with_history(runs=2)
    draft = workflow_snapshot(workflow=workflow)
    replay = Replay.objects.create(
        workflow=workflow, draft_version=draft, requested_by=UserFactory(is_staff=True), total=2
    )
    ReplayItem.objects.bulk_create(ReplayItem(replay=replay, original_execution=run) for run in runs)
    with django_capture_on_commit_callbacks():
        replay_start(replay_id=replay.pk)
    replay.refresh_from_db()
    assert replay.status == "finished" and replay.summary["not_started"] == 2
    assert "may not run" in replay.items.first().error


def test_a_repeated_start_starts_nothing_twice(django_capture_on_commit_callbacks):
    workflow, runs = workflow_with_history(runs=2)
    replay = Replay.objects.create(
        workflow=workflow, draft_version=workflow_snapshot(workflow=workflow), requested_by=workflow.owner, total=2
    )
    ReplayItem.objects.bulk_create(ReplayItem(replay=replay, original_execution=run) for run in runs)
    with django_capture_on_commit_callbacks() as sent:
        assert replay_start(replay_id=replay.pk) == 2
        assert replay_start(replay_id=replay.pk) == 0
    replay.refresh_from_db()
    assert replay.status == "running" and replay.done == 0 and len(sent) == 2  # one message per run started
    started = replay.items.values_list("replay_execution__trigger_meta", flat=True)
    assert all(meta["fast_forward"] and meta["replay"]["replay"] == replay.pk for meta in started)
