"""Four-eyes activation: who may approve, supersede, stale drafts, and what history and inboxes record."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group

from executions.models import Notification
from integrations.models import Connection
from tests.factories import EditorFactory, UserFactory, log_step, workflow_with_steps
from workflows.activation import (
    ActivationError,
    ReviewRequired,
    activation_decide,
    activation_diff,
    activation_is_stale,
    activation_start,
)
from workflows.audit import audit
from workflows.io import workflow_export
from workflows.models import ActivationRequest, Workflow
from workflows.services import WorkflowInvalid, workflow_activate, workflow_import

pytestmark = pytest.mark.django_db
PENDING, APPROVED = ActivationRequest.Status.PENDING, ActivationRequest.Status.APPROVED


def reviewed(owner, **kwargs):
    return workflow_with_steps([log_step("hello")], owner=owner, activation_review=True, **kwargs)


def stripe_step(name="default"):
    inputs = {"customer_id": "cus_1", "connection": name}
    return {"key": "charge", "name": "Charge", "config": {"action": "stripe.get_customer", "inputs": inputs}}


def test_a_workflow_without_review_goes_live_at_once(ann):
    workflow = workflow_with_steps([log_step("hello")], owner=ann)
    version = activation_start(workflow=workflow, user=ann)
    assert version.number == 1 and Workflow.objects.get(pk=workflow.pk).status == "active"
    assert not ActivationRequest.objects.exists()


def test_activating_a_reviewed_workflow_asks_instead_of_going_live(ann):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    workflow.refresh_from_db()
    assert isinstance(request, ActivationRequest) and request.status == PENDING
    assert workflow.status == "draft" and workflow.active_version is None
    assert request.version.number == 1 and request.requested_by == ann and request.last_author == ann
    assert request.reasons == ["the workflow asks for a second editor's approval"]
    with pytest.raises(ReviewRequired) as refused:  # the direct path refuses rather than skipping the review
        workflow_activate(workflow=workflow, user=ann)
    assert "activation_review" in refused.value.message_dict


def test_a_money_connection_requires_review_naming_the_step(ann, bob):
    Connection.objects.create(service="stripe", name="default", sensitivity="money", credentials={"secret_key": "x"})
    workflow = workflow_with_steps([stripe_step()], owner=ann)
    request = activation_start(workflow=workflow, user=ann)
    assert request.reasons == ["step 'charge' uses stripe: default, marked moves money"]
    activation_decide(request_id=request.pk, user=bob, decision="approve")
    assert Workflow.objects.get(pk=workflow.pk).active_version == request.version


def test_a_connection_picked_at_run_time_requires_review_when_one_of_its_service_is_sensitive(ann):
    Connection.objects.create(service="stripe", name="eu", sensitivity="sensitive", credentials={"secret_key": "x"})
    workflow = workflow_with_steps([stripe_step("{{trigger.region}}")], owner=ann)
    request = activation_start(workflow=workflow, user=ann)
    assert "picks its stripe connection at run time" in request.reasons[0]


def test_an_unmarked_connection_needs_no_review(ann):
    Connection.objects.create(service="stripe", name="default", credentials={"secret_key": "x"})
    workflow = workflow_with_steps([stripe_step()], owner=ann)
    assert activation_start(workflow=workflow, user=ann).number == 1


def test_the_requester_may_not_approve_even_as_superuser():
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    request = activation_start(workflow=reviewed(root), user=root)
    with pytest.raises(ActivationError) as refused:
        activation_decide(request_id=request.pk, user=root, decision="approve")
    assert refused.value.status == 403 and "You asked for this activation" in str(refused.value)


def test_the_last_author_of_the_draft_may_not_approve(ann, bob):
    carol = EditorFactory(username="carol", is_staff=True)
    workflow = reviewed(ann)
    audit(user=carol, obj=workflow, action="change", message="Changed steps through the API.")  # carol edits
    request = activation_start(workflow=workflow, user=ann)  # ann asks
    assert request.last_author == carol
    with pytest.raises(ActivationError) as refused:
        activation_decide(request_id=request.pk, user=carol, decision="approve")
    assert refused.value.status == 403 and "You last changed this version" in str(refused.value)
    assert activation_decide(request_id=request.pk, user=bob, decision="approve").status == APPROVED


def test_this_flows_own_history_entries_do_not_make_an_approver_an_author(ann, bob):
    workflow = reviewed(ann)
    first = activation_start(workflow=workflow, user=ann)
    activation_decide(request_id=first.pk, user=bob, decision="approve")  # bob's "approved" entry is not an edit
    workflow.steps.update(name="Hello again")
    audit(user=ann, obj=workflow, action="change")
    second = activation_start(workflow=workflow, user=ann)
    assert second.last_author == ann
    assert activation_decide(request_id=second.pk, user=bob, decision="approve").status == APPROVED


def test_who_made_the_version_may_not_approve_it(ann, bob):
    from workflows.services import workflow_snapshot

    workflow = reviewed(ann)
    workflow_snapshot(workflow=workflow, user=bob)  # bob froze the draft; ann asks for that version
    request = activation_start(workflow=workflow, user=ann)
    assert request.version.created_by == bob
    with pytest.raises(ActivationError):
        activation_decide(request_id=request.pk, user=bob, decision="approve")


def test_someone_who_may_not_activate_may_not_approve(ann):
    from tests.factories import APPROVERS

    approver = UserFactory(username="appr", is_staff=True, roles=[APPROVERS])
    request = activation_start(workflow=reviewed(ann), user=ann)
    with pytest.raises(ActivationError) as refused:
        activation_decide(request_id=request.pk, user=approver, decision="approve")
    assert refused.value.status == 403 and "may not activate" in str(refused.value)


def test_approving_puts_the_version_live_for_the_requester_and_records_both(ann, bob):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    assert Notification.objects.filter(user=bob, text__startswith="Activation to approve").exists()
    assert not Notification.objects.filter(user=ann).exists()  # the requester is not asked to approve
    activation_decide(request_id=request.pk, user=bob, decision="approve", comment="Looks right")
    workflow.refresh_from_db()
    request.refresh_from_db()
    assert workflow.status == "active" and workflow.active_version == request.version
    assert workflow.activated_by == ann  # runs act for who asked
    assert request.decided_by == bob and request.comment == "Looks right" and request.decided_at
    history = list(LogEntry.objects.filter(object_id=str(workflow.pk)).order_by("id").values_list("change_message"))
    assert history[-1] == ("Activation of v1 (requested by ann) approved by bob: Looks right.",)
    assert history[-2] == ("Activation of v1 requested.",)
    assert Notification.objects.filter(user=ann, text__startswith="Activation approved").exists()


def test_rejecting_needs_a_comment_and_leaves_the_workflow_as_it_was(ann, bob):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    with pytest.raises(ActivationError) as refused:
        activation_decide(request_id=request.pk, user=bob, decision="reject", comment="  ")
    assert (refused.value.status, refused.value.field) == (400, "comment")
    activation_decide(request_id=request.pk, user=bob, decision="reject", comment="Wrong channel")
    assert ActivationRequest.objects.get(pk=request.pk).status == "rejected"
    assert Workflow.objects.get(pk=workflow.pk).status == "draft"


def test_a_decided_request_is_not_decided_again(ann, bob):
    request = activation_start(workflow=reviewed(ann), user=ann)
    activation_decide(request_id=request.pk, user=bob, decision="approve")
    with pytest.raises(ActivationError) as refused:
        activation_decide(request_id=request.pk, user=bob, decision="reject", comment="late")
    assert refused.value.status == 409 and "already approved" in str(refused.value)


def test_only_the_requester_withdraws(ann, bob):
    request = activation_start(workflow=reviewed(ann), user=ann)
    with pytest.raises(ActivationError) as refused:
        activation_decide(request_id=request.pk, user=bob, decision="withdraw")
    assert refused.value.status == 403
    assert activation_decide(request_id=request.pk, user=ann, decision="withdraw").status == "withdrawn"


def test_a_new_request_supersedes_the_pending_one_and_asking_twice_is_one_request(ann, bob):
    workflow = reviewed(ann)
    first = activation_start(workflow=workflow, user=ann)
    assert activation_start(workflow=workflow, user=ann) == first
    workflow.steps.update(name="Hello v2")
    second = activation_start(workflow=workflow, user=ann)
    first.refresh_from_db()
    assert first.status == "superseded" and second.status == PENDING and second.version.number == 2
    with pytest.raises(ActivationError):
        activation_decide(request_id=first.pk, user=bob, decision="approve")


def test_approving_a_stale_request_activates_exactly_the_reviewed_version(ann, bob):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    assert not activation_is_stale(request)
    workflow.steps.update(config={"action": "log", "inputs": {"message": "edited after the request"}})
    assert activation_is_stale(request)
    activation_decide(request_id=request.pk, user=bob, decision="approve")
    workflow.refresh_from_db()
    assert workflow.active_version == request.version and workflow.versions.count() == 1
    assert "edited after the request" not in str(workflow.active_version.definition)


def test_turning_the_setting_off_is_itself_reviewed(ann, bob):
    workflow = reviewed(ann)
    activation_decide(request_id=activation_start(workflow=workflow, user=ann).pk, user=bob, decision="approve")
    Workflow.objects.filter(pk=workflow.pk).update(activation_review=False)
    workflow.refresh_from_db()
    request = activation_start(workflow=workflow, user=ann)
    assert isinstance(request, ActivationRequest)
    assert activation_diff(request)["settings"] == {"activation_review": {"from": True, "to": None}}


def test_resuming_the_live_version_and_rolling_back(ann, bob):
    workflow = reviewed(ann)
    v1 = activation_decide(request_id=activation_start(workflow=workflow, user=ann).pk, user=bob, decision="approve")
    workflow.steps.update(name="Hello v2")
    v2 = activation_decide(request_id=activation_start(workflow=workflow, user=ann).pk, user=bob, decision="approve")
    Workflow.objects.filter(pk=workflow.pk).update(status="paused")
    workflow.refresh_from_db()
    assert activation_start(workflow=workflow, user=ann, version=v2.version) == v2.version  # resume: at once
    rollback = activation_start(workflow=workflow, user=ann, version=v1.version)
    assert isinstance(rollback, ActivationRequest) and rollback.base_version == v2.version
    assert rollback.last_author == v1.version.created_by  # an older version's author is who made it


def test_a_direct_activation_supersedes_a_pending_request(ann):
    connection = Connection.objects.create(
        service="stripe", name="default", sensitivity="money", credentials={"secret_key": "x"}
    )
    workflow = workflow_with_steps([stripe_step()], owner=ann)
    request = activation_start(workflow=workflow, user=ann)
    Connection.objects.filter(pk=connection.pk).update(sensitivity="normal")
    assert activation_start(workflow=workflow, user=ann).number == 1
    assert ActivationRequest.objects.get(pk=request.pk).status == "superseded"


def test_approval_checks_the_requesters_connections_again(ann, bob):
    connection = Connection.objects.create(
        service="stripe", name="default", sensitivity="money", credentials={"secret_key": "x"}
    )
    workflow = workflow_with_steps([stripe_step()], owner=ann)
    request = activation_start(workflow=workflow, user=ann)
    connection.allowed_groups.add(Group.objects.create(name="Finance"))  # ann may no longer use it
    with pytest.raises(WorkflowInvalid) as refused:
        activation_decide(request_id=request.pk, user=bob, decision="approve")
    assert "ann may not use stripe: default" in str(refused.value.problems[0])
    assert ActivationRequest.objects.get(pk=request.pk).status == PENDING


def test_export_and_import_carry_the_setting(ann):
    workflow = reviewed(ann)
    definition = workflow_export(workflow=workflow)
    assert definition["activation_review"] is True
    copy = workflow_import(definition=definition, owner=ann)
    assert copy.activation_review is True
    assert "activation_review" not in workflow_export(workflow=workflow_with_steps([log_step("a")], owner=ann))
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        workflow_import(definition={**definition, "activation_review": "yes"}, owner=ann)
    assert "activation_review" in refused.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_make_exactly_one_activation(ann, bob):
    import threading

    from django.db import connection

    carol = EditorFactory(username="carol", is_staff=True)
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    barrier, outcomes = threading.Barrier(2), []

    def approve(user):
        barrier.wait()
        try:
            activation_decide(request_id=request.pk, user=user, decision="approve", comment=user.username)
            outcomes.append("approved")
        except ActivationError as exc:
            outcomes.append(exc.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(user,)) for user in (bob, carol)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [409, "approved"]
    request.refresh_from_db()
    assert request.status == APPROVED and request.comment == request.decided_by.username
    assert LogEntry.objects.filter(change_message__contains="approved by").count() == 1
    assert Workflow.objects.get(pk=workflow.pk).active_version == request.version


def test_the_request_shows_the_newest_replay_of_its_version_summarised(ann, bob, client):
    from replays.models import Replay, ReplayItem
    from workflows.activation import activation_replay_report

    request = activation_start(workflow=reviewed(ann), user=ann)
    assert activation_replay_report(request) is None  # never replayed
    replay = Replay.objects.create(workflow=request.workflow, draft_version=request.version, requested_by=ann)
    verdicts = ["same", "same", "newly_failing", "pending"]
    ReplayItem.objects.bulk_create([ReplayItem(replay=replay, verdict=v) for v in verdicts])
    Replay.objects.filter(pk=replay.pk).update(total=4, done=3)
    report = activation_replay_report(request)
    assert (report["id"], report["done"], report["total"]) == (replay.pk, 3, 4)
    assert (report["summary"]["same"], report["summary"]["newly_failing"]) == (2, 1)
    assert report["url"].endswith(f"/workflows/workflow/{request.workflow_id}/replays/{replay.pk}/")
    client.force_login(bob)
    page = client.get(f"/admin/workflows/activationrequest/{request.pk}/change/").content.decode()
    assert "3 of 4 past runs" in page and "1 newly failing" in page and report["url"] in page
