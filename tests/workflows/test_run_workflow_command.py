"""manage.py run_workflow: runs from the command line, prints each step, exits non-zero on failure."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from workflows.library import template_use, templates_load
from workflows.models import Workflow, WorkflowTemplate

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_template_test_run_from_the_command_line_prints_each_step(tmp_path, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    templates_load()
    workflow = template_use(template=WorkflowTemplate.objects.get(slug="refund-approval"))
    payload = tmp_path / "input.json"
    payload.write_text(
        json.dumps({**workflow.sample_input, "refund": {**workflow.sample_input["refund"], "amount": 20}})
    )
    out = StringIO()
    call_command("run_workflow", workflow.name, "--input", str(payload), "--test", "--inline", stdout=out)
    text = out.getvalue()
    assert "✓ Agent Processes Refund Request" in text and "✓ Send Confirmation" in text and "succeeded" in text


def test_a_failing_run_exits_with_an_error(settings):
    templates_load()
    workflow = template_use(template=WorkflowTemplate.objects.get(slug="lead-qualification"))
    with pytest.raises(CommandError, match="Invalid e-mail address"):
        _run_with(workflow, {"lead": {"email": "bad"}})


def _run_with(workflow, payload):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"lead": {**workflow.sample_input["lead"], **payload["lead"]}}, handle)
    call_command("run_workflow", workflow.name, "--input", handle.name, "--test", "--inline", stdout=StringIO())


def test_bad_input_files_and_unknown_workflows_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="No workflow or template named 'Nope'"):
        call_command("run_workflow", "Nope", stdout=StringIO())
    templates_load()
    workflow = template_use(template=WorkflowTemplate.objects.get(slug="refund-approval"))
    broken = tmp_path / "bad.json"
    broken.write_text("{")
    with pytest.raises(CommandError, match="--input"):
        call_command("run_workflow", workflow.name, "--input", str(broken), "--test", stdout=StringIO())


def test_a_template_name_alone_makes_a_draft_and_test_runs_it(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    templates_load()
    out = StringIO()
    call_command("run_workflow", "Lead Qualification & Routing", "--test", "--inline", stdout=out)
    assert "Created draft workflow" in out.getvalue() and "succeeded" in out.getvalue()
    call_command("run_workflow", "lead-qualification", "--test", "--inline", stdout=StringIO())
    assert Workflow.objects.filter(template_slug="lead-qualification").count() == 1  # the draft is reused


def test_a_run_waiting_for_an_approval_says_where_to_decide_it(settings):
    templates_load()
    out = StringIO()
    with pytest.raises(CommandError, match="still waiting after 1 s"):
        call_command("run_workflow", "Refund Approval", "--test", "--inline", "--timeout", "1", stdout=out)
    assert "… waiting for an approval: " in out.getvalue() and "/admin/executions/approval/" in out.getvalue()
