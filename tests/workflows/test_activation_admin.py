"""The admin side of four-eyes activation: Activate asks, the inbox's Activations tab, decide, connections."""

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import Connection
from tests.factories import UserFactory, log_step, workflow_with_steps
from workflows.activation import activation_start
from workflows.models import ActivationRequest, Workflow
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reviewed(owner):
    return workflow_with_steps([log_step("hello")], owner=owner, activation_review=True)


def test_activate_in_the_admin_asks_and_links_to_the_request(ann):
    workflow = reviewed(ann)
    url = reverse("admin:workflows_workflow_activate", args=[workflow.pk])
    page = signed_in(ann).post(url, follow=True).content.decode()
    request = ActivationRequest.objects.get()
    assert "Version 1 needs a second editor’s approval" in page
    assert reverse("admin:workflows_activationrequest_change", args=[request.pk]) in page
    assert 'id="faos-pending-activation"' in page and "v1 awaits approval" in page
    assert Workflow.objects.get(pk=workflow.pk).status == "draft"


def test_rolling_back_to_an_older_version_is_reviewed_too(ann, bob):
    workflow = workflow_with_steps([log_step("hello")], owner=ann)
    v1 = workflow_activate(workflow=workflow, user=ann)
    workflow.steps.update(name="Hello v2")
    workflow_activate(workflow=workflow, user=ann)
    Workflow.objects.filter(pk=workflow.pk).update(activation_review=True)
    response = signed_in(ann).post(
        reverse("admin:workflows_workflowversion_act", args=[v1.pk]), {"what": "activate"}, follow=True
    )
    assert "needs a second editor’s approval" in response.content.decode()
    assert ActivationRequest.objects.get().version == v1
    assert Workflow.objects.get(pk=workflow.pk).active_version.number == 2


def test_the_settings_fold_has_the_review_switch(ann):
    page = signed_in(ann).get(reverse("admin:workflows_workflow_add")).content.decode()
    assert 'name="activation_review"' in page


def test_the_inbox_has_an_activations_tab_counting_what_i_may_decide(ann, bob):
    activation_start(workflow=reviewed(ann), user=ann)
    page = signed_in(bob).get(reverse("admin:executions_approval_changelist")).content.decode()
    assert 'id="faos-activations-tab"' in page
    assert 'Activations <span class="faos-count faos-hot">1</span>' in page
    mine = signed_in(ann).get(reverse("admin:executions_approval_changelist")).content.decode()
    assert 'Activations <span class="faos-count">0</span>' in mine  # her own request is not hers to decide


def test_the_request_page_shows_the_diff_the_replay_hook_and_the_decision_to_a_second_editor(ann, bob):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    url = reverse("admin:workflows_activationrequest_change", args=[request.pk])
    listed = signed_in(bob).get(reverse("admin:workflows_activationrequest_changelist")).content.decode()
    assert f"{workflow.name} v1" in listed
    page = signed_in(bob).get(url).content.decode()
    assert "First activation: every step is new (hello)." in page and 'id="replay-report"' in page
    assert 'value="approve"' in page and 'value="reject"' in page
    own = signed_in(ann).get(url).content.decode()
    assert 'value="approve"' not in own and 'value="withdraw"' in own
    assert "You asked for this activation" in own


def test_deciding_in_the_admin(ann, bob):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    decide = reverse("admin:workflows_activationrequest_decide", args=[request.pk])
    assert signed_in(ann).post(decide, {"decision": "approve"}).status_code == 403
    page = signed_in(bob).post(decide, {"decision": "reject", "comment": ""}, follow=True).content.decode()
    assert "Say why you reject it." in page
    response = signed_in(bob).post(decide, {"decision": "approve"})
    assert response.url == reverse("admin:workflows_workflow_change", args=[workflow.pk])
    assert Workflow.objects.get(pk=workflow.pk).active_version == request.version


def test_a_stale_request_warns_that_the_reviewed_version_goes_live(ann, bob):
    workflow = reviewed(ann)
    request = activation_start(workflow=workflow, user=ann)
    workflow.steps.update(name="Changed")
    page = signed_in(bob).get(reverse("admin:workflows_activationrequest_change", args=[request.pk])).content
    assert b'id="faos-stale"' in page


def test_a_connection_is_marked_money_in_the_admin():
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    connection = Connection.objects.create(service="stripe", name="live", credentials={"secret_key": "sk"})
    url = reverse("admin:integrations_connection_change", args=[connection.pk])
    assert 'name="sensitivity"' in signed_in(root).get(url).content.decode()
    signed_in(root).post(url, {"service": "stripe", "name": "live", "sensitivity": "money", "cred_secret_key": ""})
    assert Connection.objects.get(pk=connection.pk).sensitivity == "money"
