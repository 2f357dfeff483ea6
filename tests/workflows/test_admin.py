"""The admin: workflows with steps inline, Run with a JSON box, activate, and the execution detail."""

import pytest
from django.urls import reverse

from executions.models import Execution
from tests.factories import workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = [
    {
        "key": "greet",
        "name": "Greet Customer",
        "config": {"action": "log", "inputs": {"message": "Hi {{trigger.name}}"}},
    },
    {"key": "done", "name": "Done", "kind": "complete", "config": {"output": {"greeted": "{{trigger.name}}"}}},
]


@pytest.fixture
def client_in(client, admin_user):
    client.force_login(admin_user)
    return client


def test_workflow_page_shows_steps_inline_and_the_run_button(client_in):
    workflow = workflow_with_steps(STEPS)
    page = client_in.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    assert "Greet Customer" in page and "Run" in page and "Activate" in page


def test_malformed_json_input_is_a_form_error_not_a_500(client_in):
    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    response = client_in.post(reverse("admin:workflows_workflow_run", args=[workflow.pk]), {"input": '{"name": '})
    assert response.status_code == 200
    assert "Not valid JSON" in response.content.decode()
    assert Execution.objects.count() == 0


def test_json_that_is_not_an_object_is_a_form_error(client_in):
    workflow = workflow_with_steps(STEPS)
    response = client_in.post(reverse("admin:workflows_workflow_run", args=[workflow.pk]), {"input": "[1, 2]"})
    assert "must be a JSON object" in response.content.decode()


def test_run_button_starts_a_run_and_the_detail_shows_each_step(client_in):
    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    response = client_in.post(reverse("admin:workflows_workflow_run", args=[workflow.pk]), {"input": '{"name": "Ada"}'})
    execution = Execution.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "admin:executions_execution_change", args=[execution.pk]
    )
    assert execution.status == "succeeded"
    detail = client_in.get(response.url).content.decode()
    assert "Greet Customer" in detail and "Hi Ada" in detail and "Succeeded" in detail


def test_activate_with_problems_shows_each_and_leaves_the_workflow_inactive(client_in):
    workflow = workflow_with_steps([{**STEPS[0], "next_step": "ghost"}])
    response = client_in.post(reverse("admin:workflows_workflow_activate", args=[workflow.pk]), follow=True)
    page = response.content.decode()
    link = reverse("admin:workflows_workflow_change", args=[workflow.pk]) + "#step=greet&amp;field=next"
    assert f'<a href="{link}" class="faos-problem-link">step &#x27;greet&#x27;, next</a>' in page
    assert ": goes to &#x27;ghost&#x27;, which is not a step" in page and "Not activated" in page
    workflow.refresh_from_db()
    assert workflow.status == "draft"


def test_validate_links_each_problem_to_its_step_and_field(client_in):
    workflow = workflow_with_steps([{**STEPS[0], "config": {"action": "log"}}])
    response = client_in.get(reverse("admin:workflows_workflow_validate", args=[workflow.pk]), follow=True)
    assert "#step=greet&amp;field=config.input.message" in response.content.decode()


def test_a_problem_links_to_its_step_or_trigger_and_a_workflow_problem_to_the_steps():
    from executions.engine.problems import Problem
    from workflows.admin.problem_links import problem_anchor, problem_message

    assert problem_anchor(Problem("greet", "branches.true", "x")) == "#step=greet&field=branches.true"
    assert problem_anchor(Problem(None, "triggers[1].secrets", "x")) == "#trigger=1&field=secrets"
    assert problem_anchor(Problem(None, "steps", "add at least one step")) == "#steps-group"
    plain = problem_message(workflow=None, problem=Problem(None, "timeout_seconds", "too long"))
    assert plain == "workflow, timeout_seconds: too long"


def test_a_saved_workflow_opens_on_its_flow_and_steps_with_the_rest_folded(client_in):
    workflow = workflow_with_steps(STEPS)
    page = client_in.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    flow, steps = page.index('class="module aligned faos-flow-module"'), page.index('id="steps-group"')
    about, triggers = page.index("Name, description and owner"), page.index('id="triggers-group"')
    assert flow < steps < about < triggers < page.index('id="versions-group"')
    assert page.count('class="module aligned collapse"') >= 2 and '<fieldset class="module collapse"' in page
    assert "faos/flow_view.js" in page and "faos/workflow_page.js" in page


def test_a_new_workflow_starts_with_its_name_unfolded(client_in):
    page = client_in.get(reverse("admin:workflows_workflow_add")).content.decode()
    assert "Name, description and owner" not in page and 'name="name"' in page
    assert page.index('name="name"') < page.index('id="steps-group"')


def test_the_confirmations_say_what_a_dismissal_leaves_unchanged(client_in):
    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    page = client_in.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    assert "return confirm(" not in page
    assert 'data-cancelled="Not activated: nothing changed.' in page and 'data-cancelled="Not paused' in page


def test_activate_a_valid_workflow(client_in):
    workflow = workflow_with_steps(STEPS)
    response = client_in.post(reverse("admin:workflows_workflow_activate", args=[workflow.pk]), follow=True)
    assert "Activated version 1" in response.content.decode()
    workflow.refresh_from_db()
    assert workflow.status == "active"


def test_execution_history_filters_by_status(client_in):
    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    from executions.services import execution_start

    execution_start(workflow=workflow, input={"name": "A"})
    url = reverse("admin:executions_execution_changelist")
    assert "1 execution" in client_in.get(url + "?status__exact=succeeded").content.decode()
    assert "0 executions" in client_in.get(url + "?status__exact=failed").content.decode()


def test_execution_history_filters_by_version_and_finds_a_value_in_the_input(client_in):
    from executions.services import execution_start

    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    execution_start(workflow=workflow, input={"name": "Ada", "email": "ada@example.com"})
    workflow.steps.filter(key="greet").update(name="Greet The Customer")
    workflow_activate(workflow=workflow)
    execution_start(workflow=workflow, input={"name": "Bob", "email": "bob@example.com"})
    url = reverse("admin:executions_execution_changelist")
    by_version = client_in.get(url + "?version=2").context["cl"].result_list
    assert [e.input["name"] for e in by_version] == ["Bob"]
    found = client_in.get(url, {"q": "ada@example"}).context["cl"].result_list
    assert [e.input["name"] for e in found] == ["Ada"]


def test_a_cron_trigger_edited_in_the_admin_shows_up_in_celery_beat(client_in):
    from django_celery_beat.models import PeriodicTask

    workflow = workflow_with_steps(STEPS)
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    form = {
        "name": workflow.name,
        "description": "",
        "timeout_seconds": 300,
        "on_failure": "nothing",
        "concurrency_overflow": "queue",
        "sample_input": "{}",
        "steps-TOTAL_FORMS": 2,
        "steps-INITIAL_FORMS": 2,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "triggers-TOTAL_FORMS": 1,
        "triggers-INITIAL_FORMS": 0,
        "triggers-MIN_NUM_FORMS": 0,
        "triggers-MAX_NUM_FORMS": 1000,
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "versions-MIN_NUM_FORMS": 0,
        "versions-MAX_NUM_FORMS": 0,
        "triggers-0-kind": "schedule",
        "triggers-0-name": "Weekdays",
        "triggers-0-is_enabled": "on",
        "triggers-0-config": '{"cron": "0 9 * * 1-5", "timezone": "UTC"}',
        "triggers-0-workflow": workflow.pk,
    }
    for i, step in enumerate(workflow.steps.order_by("position")):
        form.update(
            {
                f"steps-{i}-id": step.pk,
                f"steps-{i}-workflow": workflow.pk,
                f"steps-{i}-position": i,
                f"steps-{i}-key": step.key,
                f"steps-{i}-name": step.name,
                f"steps-{i}-kind": step.kind,
                f"steps-{i}-config": __import__("json").dumps(step.config),
                f"steps-{i}-branches": "{}",
                f"steps-{i}-on_error": "stop",
                f"steps-{i}-retry_max_attempts": 3,
                f"steps-{i}-retry_initial_delay": 1,
                f"steps-{i}-retry_multiplier": 2,
                f"steps-{i}-retry_max_delay": 300,
            }
        )
    bad = client_in.post(url, {**form, "triggers-0-config": '{"cron": "99 * * * *"}'})
    assert bad.status_code == 200 and "config.cron" in bad.content.decode()
    response = client_in.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    task = PeriodicTask.objects.get(task="workflows.tasks.fire_schedule")
    assert task.crontab.day_of_week == "1-5" and task.enabled
    page = client_in.get(url).content.decode()
    assert "Next runs:" in page


def test_execution_page_has_a_timeline_and_retry_from_the_failed_step(client_in):
    workflow = workflow_with_steps(
        [
            STEPS[0],
            {
                "key": "broken",
                "name": "Broken Step",
                "retry_max_attempts": 1,
                "config": {"action": "log", "inputs": {"message": "{{trigger.nope}}"}},
            },
        ]
    )
    workflow_activate(workflow=workflow)
    from executions.services import execution_start

    failed = execution_start(workflow=workflow, input={"name": "Ann"})
    url = reverse("admin:executions_execution_change", args=[failed.pk])
    page = client_in.get(url).content.decode()
    assert 'class="faos-timeline"' in page and "Broken Step" in page and "trigger.nope" in page
    assert "Retry from failed step" in page and 'http-equiv="refresh"' not in page  # finished runs do not reload
    workflow.steps.filter(key="broken").update(config={"action": "log", "inputs": {"message": "fixed"}})
    workflow_activate(workflow=workflow)
    assert "Retry on active version" in client_in.get(url).content.decode()
    act = reverse("admin:executions_execution_act", args=[failed.pk])
    assert client_in.get(act).status_code == 405
    response = client_in.post(act, {"what": "retry_active"}, follow=True)
    retry = Execution.objects.get(retry_of=failed)
    assert retry.status == "succeeded" and f"Started run #{retry.pk}" in response.content.decode()


def test_versions_show_a_diff_and_can_be_activated_or_copied_into_the_draft(client_in):
    workflow = workflow_with_steps(STEPS)
    v1 = workflow_activate(workflow=workflow)
    workflow.steps.filter(key="greet").update(config={"action": "log", "inputs": {"message": "Hello {{trigger.name}}"}})
    v2 = workflow_activate(workflow=workflow)
    page = client_in.get(reverse("admin:workflows_workflowversion_change", args=[v2.pk])).content.decode()
    assert "v1 → v2" in page and "config.input.message" in page and "Hello {{trigger.name}}" in page
    act = reverse("admin:workflows_workflowversion_act", args=[v1.pk])
    response = client_in.post(act, {"what": "activate"}, follow=True)
    workflow.refresh_from_db()
    assert workflow.active_version_id == v1.pk and "Version 1 is active" in response.content.decode()
    client_in.post(act, {"what": "draft"})
    assert workflow.steps.get(key="greet").config["input"]["message"] == "Hi {{trigger.name}}"


def test_a_test_run_from_the_admin_fast_forwards_waits_and_records_e_mails(client_in, mailoutbox):
    workflow = workflow_with_steps(
        [
            {"key": "pause", "name": "Wait 2 Days", "kind": "wait", "config": {"duration": "2d"}},
            {
                "key": "mail",
                "name": "Send Mail",
                "config": {"action": "send_email", "inputs": {"to": "{{trigger.email}}", "subject": "Hi", "body": "B"}},
            },
        ]
    )
    url = reverse("admin:workflows_workflow_run", args=[workflow.pk])
    form = client_in.get(url).content.decode()
    assert 'name="test_run"' in form and "checked" in form  # drafts default to a test run
    client_in.post(url, {"input": '{"email": "ann@example.com"}', "test_run": "on", "fast_forward": "on"})
    execution = Execution.objects.get()
    assert execution.is_test and execution.status == "succeeded" and mailoutbox == []
    assert execution.step_runs.get(step_key="mail").output["would_send"]["to"] == ["ann@example.com"]


def test_each_step_lists_the_variables_it_can_use(client_in):
    workflow = workflow_with_steps(
        [
            {"key": "remember", "name": "Remember", "config": {"action": "set", "inputs": {"total": 1}}},
            {
                "key": "each",
                "name": "Each",
                "kind": "loop",
                "config": {"items": "{{trigger.items}}", "steps": ["body"]},
            },
            {"key": "body", "name": "Body", "config": {"action": "log", "inputs": {"message": "{{item}}"}}},
        ]
    )
    workflow.sample_input = {"customer": {"email": "a@b.co"}, "items": [1]}
    workflow.save()
    from workflows.variables import available_variables

    body = available_variables(workflow.steps.get(key="body"))
    assert {
        "trigger.customer.email",
        "remember.result",
        "vars.total",
        "each.result",
        "item",
        "index",
        "workflow.execution_id",
    } <= set(body)
    first = available_variables(workflow.steps.get(key="remember"))
    assert "each.result" not in first and "item" not in first
    step = workflow.steps.get(key="body")  # its form, as the page fetches it when the folded step opens
    url = reverse("admin:workflows_workflow_stepforms", args=[workflow.pk])
    form = client_in.get(url, {"rows": f"2.{step.pk}"}).json()["forms"]["2"]
    assert "<code>trigger.customer.email</code>" in form and "<code>each.result</code>" in form


def test_pause_and_resume_from_the_workflow_page(client_in):
    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    change = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    status = reverse("admin:workflows_workflow_status", args=[workflow.pk])
    assert 'id="faos-pause"' in client_in.get(change).content.decode()
    assert client_in.get(status).status_code == 405
    paused = client_in.post(status, {"what": "pause"}, follow=True).content.decode()
    workflow.refresh_from_db()
    assert (
        workflow.status == "paused"
        and "no new runs start; 0 in flight go on" in paused
        and 'id="faos-resume"' in paused
    )
    client_in.post(status, {"what": "resume"})
    workflow.refresh_from_db()
    assert workflow.status == "active" and workflow.active_version.number == 1


def test_a_test_run_from_the_admin_can_send_read_only_calls(client_in):
    workflow = workflow_with_steps(STEPS)
    run = reverse("admin:workflows_workflow_run", args=[workflow.pk])
    client_in.post(run, {"input": "{}", "test_run": "on", "send_reads": "on"})
    assert Execution.objects.get().trigger_meta == {"fast_forward": False, "send_reads": True}
