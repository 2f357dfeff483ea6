"""The default groups: viewers cannot edit or run, editors cannot decide approvals, approvers decide theirs."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from executions.models import Approval, Execution
from executions.services import execution_start
from tests.factories import UserFactory, workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def groups():
    """Transactional tests flush the database, so recreate what the migration made."""
    from workflows.groups import ensure_default_groups

    ensure_default_groups()


def member(group: str, username: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def workflow():
    workflow = workflow_with_steps(
        [{"key": "ok", "name": "OK?", "kind": "approval", "config": {"title": "Pay?", "groups": ["Approvers"]}}]
    )
    workflow_activate(workflow=workflow)
    return workflow


def test_the_three_groups_exist_with_their_permissions():
    assert Group.objects.get(name="Viewers").permissions.filter(codename="change_workflow").count() == 0
    assert set(Group.objects.values_list("name", flat=True)) >= {"Workflow editors", "Approvers", "Viewers"}


def test_a_viewer_can_look_but_not_edit_or_run(client, workflow):
    client.force_login(member("Viewers", "vic"))
    assert client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).status_code == 200
    response = client.post(reverse("admin:workflows_workflow_change", args=[workflow.pk]), {"name": "hacked"})
    assert response.status_code == 403
    assert client.post(reverse("admin:workflows_workflow_run", args=[workflow.pk]), {"input": "{}"}).status_code == 403
    assert client.post(reverse("admin:workflows_workflow_activate", args=[workflow.pk])).status_code == 403
    workflow.refresh_from_db()
    assert workflow.name != "hacked" and Execution.objects.count() == 0


def test_an_editor_cannot_decide_approvals_but_an_approver_can(client, workflow):
    execution_start(workflow=workflow, input={})
    approval = Approval.objects.get()
    client.force_login(member("Workflow editors", "eddie"))
    decide = reverse("admin:executions_approval_decide", args=[approval.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 404
    client.force_login(member("Approvers", "april"))
    client.post(decide, {"decision": "approve"})
    approval.refresh_from_db()
    assert approval.status == "approved"
