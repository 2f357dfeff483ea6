"""Issue 12 §1: one authorization model. Each test is a hole the attack found, now refused."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.approvals import ApprovalError, approval_decide, approval_delegate
from executions.events import event_emit
from executions.models import Approval, Execution, Task
from executions.services import execution_start
from executions.tasks_service import task_complete, task_create
from integrations.models import Connection
from integrations.oauth import authorize_url, connection_from_state
from tests.factories import APPROVERS, EDITORS, VIEWERS, EditorFactory, UserFactory, role_groups, workflow_with_steps
from tests.factories import log_step as log
from workflows import authz
from workflows.models import Trigger
from workflows.services import WorkflowInvalid, workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)

OWN_WORK = ("add_workflow", "change_workflow", "run_workflow", "activate_workflow", "add_step", "change_step")


def restricted(username):
    """Someone who builds and runs their own workflows but may not see the company's (no view right)."""
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=OWN_WORK))
    return user


def member(role, username):
    return UserFactory(username=username, is_staff=True, roles=[role])


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def live(steps, owner, **kwargs):
    workflow = workflow_with_steps(steps, owner=owner, **kwargs)
    workflow_activate(workflow=workflow, user=owner)
    workflow.refresh_from_db()
    return workflow


@pytest.fixture
def company():
    """An editor's live workflow with a webhook trigger and one finished run."""
    editor = EditorFactory(username="eddie", is_staff=True)
    workflow = live([log("hello")], editor, name="Lead Routing")
    Trigger.objects.create(workflow=workflow, kind="webhook", config={"auth": "token"})
    run = execution_start(workflow=workflow, input={"email": "ann@example.com"}, user=editor)
    return workflow, run


@pytest.mark.parametrize("role", [VIEWERS, APPROVERS])
def test_viewers_and_approvers_cannot_edit_run_pause_or_delete_through_the_api(company, role):
    workflow, run = company
    api = token_client(member(role, "someone"))
    url = f"/api/workflows/{workflow.pk}/"
    assert api.get(url).status_code == 200  # they may look
    assert api.patch(url, {"name": "hacked"}, format="json").status_code == 403
    assert api.delete(url).status_code == 403
    assert api.post(f"{url}run/", {"input": {}}, format="json").status_code == 403
    assert api.post(f"{url}deactivate/").status_code == 403
    trigger = workflow.triggers.get()
    answer = api.patch(f"/api/triggers/{trigger.pk}/", {"config": {"auth": "none"}}, format="json")
    assert answer.status_code == 403
    for act in ("cancel", "rerun", "retry"):
        assert api.post(f"/api/executions/{run.pk}/{act}/").status_code == 403
    workflow.refresh_from_db()
    trigger.refresh_from_db()
    assert (workflow.name, workflow.status, trigger.config["auth"]) == ("Lead Routing", "active", "token")
    assert Execution.objects.count() == 1


def test_a_token_without_rights_cannot_create_import_or_use_connections(company):
    Connection.objects.create(service="stripe", name="default", credentials={"secret_key": "sk_canary"})
    api = token_client(UserFactory(username="nobody"))
    created = api.post("/api/workflows/", {"name": "Mine", "steps": [log("x")]}, format="json")
    assert created.status_code == 403
    imported = api.post("/api/workflows/import/", b'{"name": "Mine", "steps": []}', content_type="application/json")
    assert imported.status_code == 403
    assert api.get("/api/connections/").status_code == 403
    assert api.get(f"/api/executions/{company[1].pk}/").status_code == 404  # no customer data either
    assert api.post("/api/templates/support-ticket-escalation/use/").status_code in (403, 404)


@pytest.mark.parametrize("target", ["Secret", "{{ '%d' }}", "{{trigger.target}}"])
def test_a_sub_workflow_cannot_start_a_workflow_its_person_may_not_see(target):
    bob = restricted("bob")
    secret = live([{"key": "leak", "name": "Leak", "kind": "complete", "config": {"output": {"pin": "4711"}}}], bob)
    secret.name = "Secret"
    secret.save()
    alice = restricted("alice")
    step = {
        "key": "call",
        "name": "Call",
        "kind": "sub_workflow",
        "config": {"workflow": target.replace("%d", str(secret.pk))},
    }
    parent = live([step], alice, name="Alice's")
    execution = execution_start(workflow=parent, input={"target": str(secret.pk)}, user=alice)
    execution.refresh_from_db()
    assert execution.status == "failed" and "no workflow named" in execution.error
    assert "4711" not in str(execution.step_runs.values_list("output", flat=True))
    assert not Execution.objects.filter(workflow=secret).exists()


def test_a_sub_workflow_runs_for_the_person_behind_the_parent():
    editor = EditorFactory(username="ed")
    live([{"key": "done", "name": "Done", "kind": "complete", "config": {"output": {"ok": True}}}], editor, name="Kid")
    parent = live([{"key": "call", "name": "Call", "kind": "sub_workflow", "config": {"workflow": "Kid"}}], editor)
    execution = execution_start(workflow=parent, input={}, user=editor)
    execution.refresh_from_db()
    assert execution.status == "succeeded", execution.error
    assert Execution.objects.get(trigger_kind="sub_workflow").started_by == editor


def test_posting_a_system_event_type_is_403(company):
    api = token_client(EditorFactory(username="poster"))
    for event_type in ("execution.failed", "approval.decided"):
        answer = api.post("/api/events/", {"type": event_type, "data": {"workflow_id": 1}}, format="json")
        assert answer.status_code == 403, event_type
    with pytest.raises(authz.Refused):
        event_emit(type="execution.failed", data={}, sender=EditorFactory(username="other"))


def test_a_posted_event_reaches_only_runs_and_workflows_the_sender_may_run():
    editor = EditorFactory(username="ed")
    waiter = live([{"key": "wait", "name": "Wait", "kind": "wait_for_event", "config": {"event": "reply"}}], editor)
    running = execution_start(workflow=waiter, input={}, user=editor)
    reactor = live([log("react")], editor, name="Reactor")
    Trigger.objects.create(workflow=reactor, kind="event", config={"type": "reply"})
    answer = token_client(member(VIEWERS, "vic")).post("/api/events/", {"type": "reply", "data": {}}, format="json")
    assert answer.status_code == 201 and answer.json()["resumed"] == 0 and answer.json()["started"] == []
    running.refresh_from_db()
    assert running.status == "waiting"
    assert token_client(editor).post("/api/events/", {"type": "reply"}, format="json").json()["resumed"] == 1


def test_another_owners_failure_never_reaches_my_execution_failed_trigger():
    bob, alice = restricted("bob"), restricted("alice")
    broken = live([{"key": "boom", "name": "Boom", "kind": "fail", "config": {"message": "card 4242 declined"}}], bob)
    for owner in (alice, bob):
        watcher = live([log("seen", "{{trigger.error}}")], owner, name=f"{owner.username}'s watcher")
        Trigger.objects.create(workflow=watcher, kind="event", config={"type": "execution.failed"})
    execution_start(workflow=broken, input={}, user=bob)
    started = Execution.objects.filter(trigger_kind="event")
    assert [e.workflow.owner.username for e in started] == ["bob"]
    assert "4242" not in str(list(Execution.objects.filter(workflow__owner=alice).values_list("input", flat=True)))


def approval_flow(owner, **config):
    approve = {"title": "Refund?", "groups": ["Managers"], **config}
    return live([{"key": "ok", "name": "OK?", "kind": "approval", "config": approve}, log("paid")], owner)


@pytest.mark.parametrize("how", ["webhook", "event", "schedule"])
def test_a_run_started_by_a_trigger_acts_for_the_activator_who_cannot_approve_it(how):
    manager = EditorFactory(username="mgr")
    Group.objects.create(name="Managers").user_set.add(manager)
    workflow = approval_flow(manager)
    execution = execution_start(workflow=workflow, input={}, trigger_kind=how)
    assert execution.started_by == manager
    approval = Approval.objects.get()
    assert approval.requested_by == manager
    with pytest.raises(ApprovalError) as refused:
        approval_decide(approval_id=approval.pk, user=manager, decision="approve")
    assert refused.value.status == 403


def test_superusers_cannot_approve_their_own_request_either():
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    workflow = approval_flow(boss, groups=[], approvers=["boss"])
    execution_start(workflow=workflow, input={}, user=boss)
    assert not authz.may(boss, "decide", Approval.objects.get())


def test_delegation_goes_only_to_someone_eligible_for_that_approval():
    editor = EditorFactory(username="ed")
    ann, ben = member(APPROVERS, "ann"), member(APPROVERS, "ben")
    UserFactory(username="carl")  # no role, not named
    workflow = approval_flow(editor, groups=[], approvers=["ann", "ben"], required=2)
    execution_start(workflow=workflow, input={}, user=editor)
    approval = Approval.objects.get()
    with pytest.raises(ApprovalError) as refused:
        approval_delegate(approval_id=approval.pk, user=ann, to_username="carl")
    assert refused.value.status == 400 and refused.value.field == "to"
    with pytest.raises(ApprovalError):
        approval_delegate(approval_id=approval.pk, user=ann, to_username="ed")  # the requester
    assert approval_delegate(approval_id=approval.pk, user=ann, to_username="ben").approvers.get() == ben


def test_the_admin_run_actions_need_the_run_right(client, company):
    workflow, run = company
    client.force_login(member(VIEWERS, "vic"))
    for what in ("cancel", "rerun", "retry"):
        answer = client.post(reverse("admin:executions_execution_act", args=[run.pk]), {"what": what})
        assert answer.status_code == 403, what
    changelist = reverse("admin:executions_execution_changelist")
    client.post(changelist, {"action": "rerun_selected", "_selected_action": [run.pk]})
    assert Execution.objects.count() == 1


def test_oauth_sign_in_needs_the_change_right_and_its_state_is_bound_to_the_user(client):
    connection = Connection.objects.create(
        service="slack", name="default", credentials={"client_id": "id", "client_secret": "s"}
    )
    client.force_login(member(VIEWERS, "vic"))
    start = reverse("admin:integrations_connection_oauth", args=[connection.pk])
    assert client.get(start).status_code == 404  # a viewer cannot even see connections
    client.force_login(UserFactory(username="reader", is_staff=True, roles=[EDITORS]))
    Group.objects.get(name=EDITORS).permissions.remove(Permission.objects.get(codename="change_connection"))
    assert client.get(start).status_code == 403  # sees it, may not change it
    editor = EditorFactory(username="ed")
    state = authorize_url(connection=connection, redirect_uri="https://faos.example/cb", user=editor)
    state = state.split("state=")[1].split("&")[0]
    from urllib.parse import unquote

    with pytest.raises(ValueError, match="someone else"):
        connection_from_state(unquote(state), user=EditorFactory(username="mallory"))
    assert connection_from_state(unquote(state), user=editor) == connection


def stripe_step():
    inputs = {"customer_id": "cus_1", "connection": "default"}
    return {"key": "lookup", "name": "Lookup", "config": {"action": "stripe.get_customer", "inputs": inputs}}


def test_activation_is_refused_with_a_connection_the_activator_may_not_use_naming_it():
    finance = Group.objects.create(name="Finance")
    connection = Connection.objects.create(service="stripe", name="default", credentials={"secret_key": "sk_x"})
    connection.allowed_groups.add(finance)
    editor = EditorFactory(username="ed")
    workflow = workflow_with_steps([stripe_step()], owner=editor)
    with pytest.raises(WorkflowInvalid) as refused:
        workflow_activate(workflow=workflow, user=editor)
    assert "stripe: default" in str(refused.value.problems[0]) and refused.value.problems[0].step == "lookup"
    finance.user_set.add(editor)
    assert workflow_activate(workflow=workflow, user=editor).number == 1


def test_a_run_stops_at_a_connection_its_person_may_not_use():
    connection = Connection.objects.create(service="stripe", name="default", credentials={"secret_key": "sk_x"})
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    workflow = live([stripe_step()], boss)
    connection.allowed_groups.add(Group.objects.create(name="Finance"))
    execution = execution_start(workflow=workflow, input={}, user=EditorFactory(username="ed"))
    execution.refresh_from_db()
    assert execution.status == "failed" and "may not use the stripe: default connection" in execution.error


def test_run_workflow_command_acts_for_the_user_it_names():
    editor = EditorFactory(username="ed")
    workflow = live([log("x")], editor, name="Nightly")
    member(VIEWERS, "vic")
    with pytest.raises(CommandError, match="may not run"):
        call_command("run_workflow", "Nightly", "--user", "vic", stdout=StringIO())
    call_command("run_workflow", "Nightly", "--user", "ed", stdout=StringIO())
    assert Execution.objects.get(workflow=workflow).started_by == editor


def test_only_the_person_a_task_is_for_may_complete_it():
    assignee = UserFactory(username="tina")
    task = task_create(request={"title": "Call the customer", "assignee": "tina"})
    with pytest.raises(authz.Refused):
        task_complete(task_id=task.pk, user=UserFactory(username="eve"))
    assert task_complete(task_id=task.pk, user=assignee).status == Task.Status.DONE


def test_a_rule_missing_for_an_action_is_a_refusal():
    editor = EditorFactory(username="ed")
    assert not authz.may(editor, "launch_missiles", "workflows.workflow")
    assert authz.may(None, "anything", "workflows.workflow")  # the system acting for nobody


def test_role_groups_map_to_the_documented_rights():
    editor, viewer, approver = EditorFactory(username="e"), member(VIEWERS, "v"), member(APPROVERS, "a")
    model = "workflows.workflow"
    assert [authz.may(editor, r, model) for r in ("view", "add", "change", "run", "activate")] == [True] * 5
    assert [authz.may(viewer, r, model) for r in ("view", "add", "change", "run", "activate")] == [True] + [False] * 4
    assert [authz.may(approver, r, model) for r in ("view", "change", "run")] == [True, False, False]
    assert authz.may(editor, "use", "integrations.connection") and not authz.may(
        viewer, "use", "integrations.connection"
    )
    assert set(role_groups([EDITORS, VIEWERS, APPROVERS])) == set(
        Group.objects.filter(name__in=[EDITORS, VIEWERS, APPROVERS])
    )


def test_an_agent_step_stops_at_a_model_connection_its_person_may_not_use():
    from executions.engine.errors import StepError
    from integrations.agents import AgentRunner
    from workflows.models import Agent

    key = Connection.objects.create(service="openai", name="llm", credentials={"api_key": "sk-canary"})
    key.allowed_groups.add(Group.objects.create(name="Data team"))
    Agent.objects.create(name="Bot", provider="openai", model="gpt-4o-mini", connection=key)
    with pytest.raises(StepError, match="may not use the openai: llm connection"):
        AgentRunner(actor=EditorFactory(username="ed")).perform("Bot", {"action": "classify"}, ctx=None)


def test_an_event_posted_before_the_wait_starts_is_not_taken_from_someone_who_may_not_run_it():
    from django.db import transaction

    editor = EditorFactory(username="ed")
    waiter = live([{"key": "wait", "name": "Wait", "kind": "wait_for_event", "config": {"event": "paid"}}], editor)
    with transaction.atomic():  # the run starts on commit, after both events exist
        execution = execution_start(workflow=waiter, input={}, user=editor)
        event_emit(type="paid", data={"by": "vic"}, sender=member(VIEWERS, "vic"))
    execution.refresh_from_db()
    assert execution.status == "waiting"
    with transaction.atomic():
        other = execution_start(workflow=waiter, input={}, user=editor)
        event_emit(type="paid", data={"by": "ed"}, sender=editor)
    other.refresh_from_db()
    assert other.status == "succeeded"


def test_the_admin_shows_run_and_activate_only_to_people_who_may_press_them(client, company):
    workflow, run = company
    page = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    run_page = reverse("admin:executions_execution_change", args=[run.pk])
    client.force_login(member(VIEWERS, "vic"))
    assert "▶ Run" not in client.get(page).text and "faos-activate" not in client.get(page).text
    assert "Re-run with same input" not in client.get(run_page).text
    client.force_login(workflow.owner)
    assert "▶ Run" in client.get(page).text and "faos-activate" in client.get(page).text
    assert "Re-run with same input" in client.get(run_page).text


def test_options_tells_a_permitted_user_what_an_endpoint_accepts(company):
    api = token_client(EditorFactory(username="opts"))
    answer = api.options("/api/workflows/")
    assert answer.status_code == 200 and "POST" in answer.json().get("actions", {})
    assert token_client(member(VIEWERS, "vic")).options("/api/workflows/").json().get("actions") is None
