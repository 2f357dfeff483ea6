"""manage.py load_demo: the demo workflow and help-centre articles, once, so the support template finds an answer."""

from io import StringIO

import pytest
from django.core.management import call_command

from executions.services import execution_start
from integrations.models import KnowledgeArticle
from workflows.library import template_use, templates_load
from workflows.models import Workflow, WorkflowTemplate

pytestmark = pytest.mark.django_db(transaction=True)


def test_load_demo_is_idempotent_and_the_support_template_answers_from_an_article(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    assert Workflow.objects.filter(status="active").count() == 1 and KnowledgeArticle.objects.count() == 4
    templates_load()
    support = template_use(template=WorkflowTemplate.objects.get(slug="support-ticket-escalation"))
    execution = execution_start(workflow=support, input=support.sample_input, is_test=True)
    kb = execution.step_runs.get(step_key="check_knowledge_base")
    assert kb.output["found"] is True and kb.output["best"]["title"] == "Reset your password"
    assert execution.step_runs.filter(step_key="send_auto_response").exists()


def test_a_test_run_of_the_demo_workflow_succeeds_like_a_live_run(settings):
    """A newcomer's first click is "Run test": the demo must not fail where a test run records the e-mail."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("load_demo", stdout=StringIO())
    demo = Workflow.objects.get(status="active")
    for is_test in (True, False):
        execution = execution_start(workflow=demo, input=demo.sample_input, is_test=is_test)
        execution.refresh_from_db()
        assert execution.status == "succeeded", execution.error
        assert execution.output["welcome_sent_to"] == [demo.sample_input["customer"]["email"]]
