"""Human tasks (created, waited on, completed), approval delegation, notifications and header counts."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from executions.approvals import ApprovalError, approval_decide, approval_delegate
from executions.models import Approval, Notification, Task
from executions.services import execution_start
from tests.factories import UserFactory
from tests.factories import active_workflow as active

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def accounts(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    group = Group.objects.create(name="Accounts")
    people = [UserFactory(username=n, is_staff=True) for n in ("maria", "tom")]
    group.user_set.add(*people)
    return people


REVIEW = {
    "key": "review",
    "name": "Create Task For Human Review",
    "kind": "task",
    "config": {
        "title": "Review invoice {{trigger.invoice}}",
        "group": "Accounts",
        "due": "2d",
        "checklist": ["Call customer", "Update CRM"],
        "wait": True,
    },
}


def test_a_task_step_waits_until_someone_marks_it_done(accounts, client, mailoutbox):
    workflow = active(
        [
            REVIEW,
            {
                "key": "after",
                "name": "After",
                "config": {"action": "log", "inputs": {"message": "done by {{review.result.completed_by}}"}},
            },
        ]
    )
    execution = execution_start(workflow=workflow, input={"invoice": "INV-7"})
    execution.refresh_from_db()
    task = Task.objects.get()
    assert execution.status == "waiting" and task.title == "Review invoice INV-7" and task.due_at
    assert [i["text"] for i in task.checklist] == ["Call customer", "Update CRM"]
    assert sorted(m.to[0] for m in mailoutbox) == ["maria@example.com", "tom@example.com"]  # each their own link
    assert Notification.objects.filter(user=accounts[0], text__contains="INV-7").exists()
    client.force_login(accounts[0])
    assert client.get(reverse("admin:executions_task_done", args=[task.pk])).status_code == 405
    client.post(reverse("admin:executions_task_done", args=[task.pk]))
    execution.refresh_from_db()
    assert execution.status == "succeeded"
    assert execution.step_runs.get(step_key="after").input == {"message": "done by maria"}


def test_a_task_without_wait_goes_straight_on_and_the_action_creates_one_too(accounts):
    workflow = active(
        [
            {**REVIEW, "config": {**REVIEW["config"], "wait": False}},
            {
                "key": "restock",
                "name": "Create Restock Task",
                "config": {
                    "action": "create_task",
                    "inputs": {"title": "Restock {{trigger.invoice}}", "assignee": "tom"},
                },
            },
        ]
    )
    execution = execution_start(workflow=workflow, input={"invoice": "SKU-1"})
    execution.refresh_from_db()
    assert execution.status == "succeeded" and Task.objects.count() == 2
    assert Task.objects.get(title="Restock SKU-1").assignee == accounts[1]


def test_my_tasks_shows_only_mine(accounts, client):
    workflow = active([{**REVIEW, "config": {**REVIEW["config"], "wait": False, "group": None, "assignee": "tom"}}])
    execution_start(workflow=workflow, input={"invoice": "X"})
    client.force_login(accounts[0])
    assert "Review invoice X" not in client.get(reverse("admin:executions_task_changelist")).content.decode()
    client.force_login(accounts[1])
    assert "Review invoice X" in client.get(reverse("admin:executions_task_changelist")).content.decode()


def test_delegation_reassigns_the_approval_and_is_recorded(accounts, client):
    outsider = UserFactory(username="eve")
    workflow = active(
        [{"key": "ok", "name": "OK?", "kind": "approval", "config": {"title": "Pay?", "groups": ["Accounts"]}}]
    )
    execution_start(workflow=workflow, input={})
    approval = Approval.objects.get()
    with pytest.raises(ApprovalError) as exc:
        approval_delegate(approval_id=approval.pk, user=accounts[0], to_username="eve")
    assert exc.value.status == 400 and outsider.pk
    approval_delegate(approval_id=approval.pk, user=accounts[0], to_username="tom")
    approval.refresh_from_db()
    assert approval.history[0]["by"] == "maria" and approval.history[0]["to"] == "tom"
    with pytest.raises(ApprovalError) as exc:
        approval_decide(approval_id=approval.pk, user=accounts[0], decision="approve")
    assert exc.value.status == 404  # no longer hers
    assert Notification.objects.filter(user=accounts[1], text__startswith="maria passed you").exists()
    approval_decide(approval_id=approval.pk, user=accounts[1], decision="approve")


def test_the_admin_header_counts_my_pending_approvals_and_tasks(accounts, client):
    workflow = active(
        [{"key": "ok", "name": "OK?", "kind": "approval", "config": {"title": "Pay?", "groups": ["Accounts"]}}]
    )
    execution_start(workflow=workflow, input={})
    client.force_login(accounts[0])
    page = client.get(reverse("admin:index")).content.decode()
    assert 'My approvals <span class="faos-count faos-hot">1</span>' in page
    assert 'Notifications <span class="faos-count faos-hot">1</span>' in page
