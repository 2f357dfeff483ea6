"""Approval steps: approve and reject paths, N-of-M, self-approval, expiry with escalation, reminders,
one decision when two managers click at once, and the inbox's permissions."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse

from executions.approvals import ApprovalError, approval_decide
from executions.models import Approval
from executions.runtime.sweep import sweep
from executions.services import execution_start
from tests.factories import EDITORS, UserFactory, role_groups, workflow_with_steps
from tests.factories import log_step as log
from tests.vendor import postgresql_only
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)


def refund_workflow(**approval_config):
    """The guide's pattern 1: amount > $100 needs a manager's approval before the refund."""
    config = {
        "title": "Refund {{trigger.amount}} USD to {{trigger.customer}}?",
        "amount": "{{trigger.amount}}",
        "currency": "USD",
        "groups": ["Managers"],
        "details": "Reason: {{trigger.reason}}",
        **approval_config,
    }
    workflow = workflow_with_steps(
        [
            {
                "key": "check_amount",
                "name": "Amount Over $100?",
                "kind": "condition",
                "config": {"expression": "trigger.amount > 100"},
                "branches": {"true": "manager_approval", "false": "process_refund"},
            },
            {
                "key": "manager_approval",
                "name": "Manager Approval",
                "kind": "approval",
                "config": config,
                "branches": {
                    "on_approved": "process_refund",
                    "on_rejected": "tell_rejected",
                    "on_expired": "tell_rejected",
                },
            },
            log("process_refund", "refunding {{trigger.amount}}"),
            log("send_confirmation", "refund done", next_step="end"),
            log("tell_rejected", "refund declined"),
        ]
    )
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    return workflow


@pytest.fixture
def managers(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    group = Group.objects.create(name="Managers")
    people = [UserFactory(username=name, is_staff=True) for name in ("maria", "tom")]
    group.user_set.add(*people)
    return people


def keys(execution):
    return list(execution.step_runs.order_by("id").values_list("step_key", flat=True))


def start(workflow, amount=250, **kw):
    execution = execution_start(
        workflow=workflow, input={"amount": amount, "customer": "ann@example.com", "reason": "broken"}, **kw
    )
    execution.refresh_from_db()
    return execution


def test_small_refunds_skip_the_approval(managers):
    execution = start(refund_workflow(), amount=40)
    assert execution.status == "succeeded" and "manager_approval" not in keys(execution)


def test_approved_refund_pauses_then_continues_to_the_refund(managers, mailoutbox):
    execution = start(refund_workflow())
    assert execution.status == "waiting"
    approval = Approval.objects.get()
    assert approval.title == "Refund 250 USD to ann@example.com?" and approval.amount == 250
    assert sorted(m.to[0] for m in mailoutbox) == ["maria@example.com", "tom@example.com"]  # one each
    assert all(f"/admin/executions/approval/{approval.pk}/change/" in m.body for m in mailoutbox)
    approval_decide(approval_id=approval.pk, user=managers[0], decision="approve", comment="ok")
    execution.refresh_from_db()
    assert execution.status == "succeeded"
    assert keys(execution) == ["check_amount", "manager_approval", "process_refund", "send_confirmation"]
    result = execution.step_runs.get(step_key="manager_approval").output
    assert result["decision"] == "approved" and result["deciders"] == ["maria"] and result["comment"] == "ok"


def test_an_approval_decided_before_its_step_parked_still_wakes_the_run(managers, monkeypatch):
    """A manager quick enough to decide between the approval's opening and the step's park is not lost: the
    decision found no parked step to wake, so the park itself sees the decision and wakes the step."""
    from executions.approvals import ApprovalRunner

    real_open = ApprovalRunner.open

    def open_and_decide_at_once(self, request, *, ctx):
        opened = real_open(self, request, ctx=ctx)
        approval_decide(approval_id=opened[0], user=managers[0], decision="approve", comment="quick")
        return opened

    monkeypatch.setattr(ApprovalRunner, "open", open_and_decide_at_once)
    execution = start(refund_workflow())
    assert execution.status == "succeeded", execution.error
    assert keys(execution) == ["check_amount", "manager_approval", "process_refund", "send_confirmation"]
    assert execution.step_runs.get(step_key="manager_approval").output["comment"] == "quick"


def test_rejection_needs_a_comment_and_takes_the_rejected_branch(managers):
    execution = start(refund_workflow())
    approval = Approval.objects.get()
    with pytest.raises(ApprovalError) as exc:
        approval_decide(approval_id=approval.pk, user=managers[1], decision="reject")
    assert exc.value.status == 400 and exc.value.field == "comment"
    approval_decide(approval_id=approval.pk, user=managers[1], decision="reject", comment="fraud")
    execution.refresh_from_db()
    assert keys(execution)[-1] == "tell_rejected" and execution.status == "succeeded"
    with pytest.raises(ApprovalError) as exc:
        approval_decide(approval_id=approval.pk, user=managers[0], decision="approve")
    assert exc.value.status == 409


def test_two_of_two_approvals_are_needed_when_configured(managers):
    execution = start(refund_workflow(required=2))
    approval = Approval.objects.get()
    approval_decide(approval_id=approval.pk, user=managers[0], decision="approve")
    execution.refresh_from_db()
    assert execution.status == "waiting"
    with pytest.raises(ApprovalError) as exc:
        approval_decide(approval_id=approval.pk, user=managers[0], decision="approve")
    assert exc.value.status == 409
    approval_decide(approval_id=approval.pk, user=managers[1], decision="approve")
    execution.refresh_from_db()
    assert execution.status == "succeeded" and execution.step_runs.get(step_key="manager_approval").output[
        "deciders"
    ] == ["maria", "tom"]


def test_the_person_who_started_the_run_cannot_approve_it(managers):
    managers[0].groups.add(*role_groups([EDITORS]))  # may run it, so may start it
    start(refund_workflow(), user=managers[0])
    with pytest.raises(ApprovalError) as exc:
        approval_decide(approval_id=Approval.objects.get().pk, user=managers[0], decision="approve")
    assert exc.value.status == 403


def test_a_non_approver_cannot_see_or_decide(managers):
    start(refund_workflow())
    outsider = UserFactory(username="eve", is_staff=True)
    with pytest.raises(ApprovalError) as exc:
        approval_decide(approval_id=Approval.objects.get().pk, user=outsider, decision="approve")
    assert exc.value.status == 404


def test_expiry_escalates_and_takes_the_expired_branch(managers, mailoutbox):
    finance = Group.objects.create(name="Finance")
    finance.user_set.add(UserFactory(username="fin"))
    execution = start(refund_workflow(due="2d", escalate_to=["Finance"]))
    approval = Approval.objects.get()
    with time_machine.travel(approval.due_at + timedelta(seconds=1), tick=False):
        sweep()
    execution.refresh_from_db()
    approval.refresh_from_db()
    assert approval.status == "expired" and keys(execution)[-1] == "tell_rejected"
    assert mailoutbox[-1].to == ["fin@example.com"] and "expired" in mailoutbox[-1].subject


def test_reminders_are_sent_until_someone_decides(managers, mailoutbox):
    start(refund_workflow(remind_every="24h", due="3d"))
    approval = Approval.objects.get()
    for day in (1, 2):
        with time_machine.travel(approval.created_at + timedelta(days=day, seconds=30), tick=False):
            sweep()
    approval.refresh_from_db()
    assert approval.reminders_sent == 2 and approval.status == "pending"
    assert [m.subject.split(":")[0] for m in mailoutbox] == [
        *["[FAOS] Approval needed"] * 2,
        *["[FAOS] Reminder"] * 4,
    ]  # to maria and to tom, each time


@postgresql_only("row locks need PostgreSQL; SQLite serialises writers")
def test_two_managers_approving_at_the_same_instant_produce_one_decision(managers):
    execution = start(refund_workflow())
    approval = Approval.objects.get()
    barrier, outcomes = threading.Barrier(2), []

    def click(user, decision):
        barrier.wait()
        try:
            approval_decide(approval_id=approval.pk, user=user, decision=decision, comment="now")
            outcomes.append("ok")
        except ApprovalError as exc:
            outcomes.append(exc.status)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=click, args=(managers[0], "approve")),
        threading.Thread(target=click, args=(managers[1], "reject")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    approval.refresh_from_db()
    assert sorted(outcomes, key=str) == [409, "ok"] and approval.decisions.count() == 1
    execution.refresh_from_db()
    assert execution.step_runs.filter(step_key__in=["process_refund", "tell_rejected"]).count() == 1


def test_the_inbox_lists_only_my_approvals_and_decides_by_post_with_csrf(managers, client):
    start(refund_workflow())
    approval = Approval.objects.get()
    client.force_login(managers[0])
    inbox = client.get(reverse("admin:executions_approval_changelist")).content.decode()
    assert "Refund 250 USD" in inbox and "250.00 USD" in inbox
    decide = reverse("admin:executions_approval_decide", args=[approval.pk])
    assert client.get(decide).status_code == 405
    outsider = UserFactory(username="eve", is_staff=True)
    client.force_login(outsider)
    assert "Refund 250" not in client.get(reverse("admin:executions_approval_changelist")).content.decode()
    assert client.post(decide, {"decision": "approve"}).status_code == 404
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(managers[0])
    assert strict.post(decide, {"decision": "approve"}).status_code == 403
    client.force_login(managers[0])
    response = client.post(decide, {"decision": "approve", "comment": "fine"}, follow=True)
    assert "approved" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == "approved"


def test_the_list_offers_one_click_approve_and_the_detail_shows_the_trigger_data(managers, client):
    execution = start(refund_workflow())
    approval = Approval.objects.get()
    client.force_login(managers[0])
    listing = client.get(reverse("admin:executions_approval_changelist")).content.decode()
    assert f'form="decide-{approval.pk}"' in listing and f'id="decide-{approval.pk}"' in listing
    detail = client.get(reverse("admin:executions_approval_change", args=[approval.pk])).content.decode()
    assert "ann@example.com" in detail and "broken" in detail and execution.pk


def test_approval_notices_also_go_to_slack_when_configured(managers, settings):
    from integrations.models import Connection
    from tests.fakes import FakeServer

    server = FakeServer()
    server.route("POST", "/api/chat.postMessage", body={"ok": True, "channel": "C1", "ts": "1"})
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    settings.FAOS_APPROVAL_CHAT = ["slack:#approvals"]
    Connection.objects.create(service="slack", credentials={"bot_token": "xoxb-t", "base_url": server.url})
    start(refund_workflow())
    server.close()
    [request] = server.requests
    assert request.json()["channel"] == "#approvals" and "Approval needed: Refund 250 USD" in request.json()["text"]
    assert "/admin/executions/approval/" in request.json()["text"]


def test_bulk_reject_asks_for_a_reason_then_rejects_each(managers, client):
    start(refund_workflow())
    start(refund_workflow())
    ids = list(Approval.objects.values_list("pk", flat=True))
    client.force_login(managers[0])
    url = reverse("admin:executions_approval_changelist")
    ask = client.post(url, {"action": "reject_selected", "_selected_action": ids})
    assert ask.status_code == 200 and "Reject these 2 request(s)?" in ask.content.decode()
    again = client.post(url, {"action": "reject_selected", "_selected_action": ids, "apply": "1", "comment": ""})
    assert "Say why you reject them." in again.content.decode()
    client.post(url, {"action": "reject_selected", "_selected_action": ids, "apply": "1", "comment": "duplicates"})
    assert set(Approval.objects.values_list("status", "comment")) == {("rejected", "duplicates")}
