"""A webhook trigger is usable as made: a secret is generated for the schemes FAOS chooses, activation names a
missing vendor secret, and the admin's curl example delivers when pasted."""

import html
import re
import shlex
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Execution
from tests.factories import VIEWERS, EditorFactory, TriggerFactory, UserFactory, log_step, workflow_with_steps
from workflows.library import template_use, templates_load
from workflows.models import Trigger, WorkflowTemplate
from workflows.services import WorkflowInvalid, workflow_activate, workflow_import

pytestmark = pytest.mark.django_db(transaction=True)

DEFINITION = {"name": "Hooked", "steps": [log_step("greet")]}


def api_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=EditorFactory()).key}")
    return client


def made_by(how: str, auth: str) -> Trigger:
    hook = {"kind": "webhook", "name": "Inbox", "config": {"auth": auth}}
    if how == "orm":
        return TriggerFactory(workflow=workflow_with_steps([log_step("greet")]), **hook)
    if how == "import":
        return workflow_import(definition={**DEFINITION, "triggers": [hook]}).triggers.get()
    if how == "api_workflow":
        created = api_client().post("/api/workflows/", {**DEFINITION, "triggers": [hook]}, format="json")
        assert created.status_code == 201, created.json()
        return Trigger.objects.get(workflow_id=created.json()["id"])
    if how == "api_trigger":
        workflow = workflow_with_steps([log_step("greet")])
        client = api_client()
        workflow.owner = Token.objects.get().user
        workflow.save()
        created = client.post("/api/triggers/", {"workflow": workflow.pk, **hook}, format="json")
        assert created.status_code == 201, created.json()
        assert created.json()["has_secret"] is True
        trigger = Trigger.objects.get(pk=created.json()["id"])
        assert created.json()["generated_secret"] == trigger.secrets[0]  # shown once, in the answer that made it
        assert client.get(f"/api/triggers/{trigger.pk}/").json()["generated_secret"] is None
        return trigger
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["orm", "import", "api_workflow", "api_trigger"])
@pytest.mark.parametrize("auth", ["token", "hmac_sha256"])
def test_a_webhook_trigger_gets_a_secret_when_created(how, auth):
    trigger = made_by(how, auth)
    assert len(trigger.secrets) == 1 and len(trigger.secrets[0]) >= 32
    workflow_activate(workflow=trigger.workflow)  # nothing missing


def test_a_template_webhook_gets_its_secret_and_keeps_it_on_later_saves():
    templates_load()
    workflow = template_use(template=WorkflowTemplate.objects.get(slug="support-ticket-escalation"))
    trigger = workflow.triggers.get(kind="webhook")
    secret = trigger.secrets
    assert trigger.auth_scheme == "token" and secret
    trigger.name = "Renamed"
    trigger.save()
    trigger.refresh_from_db()
    assert trigger.secrets == secret


def test_a_webhook_without_a_secret_is_refused_at_activation_naming_the_trigger_and_field():
    workflow = workflow_with_steps([log_step("greet")])
    TriggerFactory(workflow=workflow, kind="manual")
    TriggerFactory(workflow=workflow, kind="webhook", name="Stripe events", config={"auth": "stripe"})
    with pytest.raises(WorkflowInvalid) as refused:
        workflow_activate(workflow=workflow)
    [problem] = refused.value.problems
    assert problem.field == "triggers[1].secrets"
    assert "'Stripe events'" in problem.message and "New secret" in problem.message
    hook = workflow.triggers.get(kind="webhook")
    hook.secrets = ["whsec_from_stripe"]
    hook.save()
    workflow_activate(workflow=workflow)


def test_activation_over_the_api_says_the_secret_is_missing():
    client = api_client()
    hook = {"kind": "webhook", "name": "Shop orders", "config": {"auth": "shopify"}}
    workflow = client.post("/api/workflows/", {**DEFINITION, "triggers": [hook]}, format="json").json()
    refused = client.post(f"/api/workflows/{workflow['id']}/activate/")
    assert refused.status_code in (400, 409), refused.json()
    assert "triggers[0].secrets" in str(refused.json()) and "Shop orders" in str(refused.json())


def curl_example(client, workflow) -> str:
    page = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    match = re.search(r'<code class="hook-curl">(.*?)</code>', page, re.S)
    assert match, "no curl example on the page"
    return html.unescape(match.group(1))


def deliver(client, command: str):
    """Run a pasted `curl -X POST URL -H 'K: V'… -d BODY` through the test client."""
    args = shlex.split(command)
    assert args[:3] == ["curl", "-X", "POST"]
    url, headers, body = args[3], {}, None
    rest = iter(args[4:])
    for flag in rest:
        value = next(rest)
        if flag == "-H":
            name, _, header_value = value.partition(": ")
            headers[name] = header_value
        else:
            assert flag == "-d"
            body = value
    content_type = headers.pop("Content-Type")
    return url, client.post(urlsplit(url).path, body, content_type=content_type, headers=headers)


@pytest.mark.parametrize(
    ("auth", "secret"),
    [("token", None), ("hmac_sha256", None), ("stripe", "whsec_x"), ("shopify", "shpss_x"), ("none", None)],
)
def test_the_admin_curl_example_works_when_pasted(client, admin_user, settings, auth, secret):
    settings.SITE_URL = "http://127.0.0.1:8101"  # what FAOS_PORT=8101 gives
    workflow = workflow_with_steps([log_step("greet")])
    config = {"auth": auth, **({"header": "X-Hook-Key"} if auth == "token" else {})}
    TriggerFactory(workflow=workflow, kind="webhook", config=config, **({"secrets": [secret]} if secret else {}))
    workflow_activate(workflow=workflow)
    client.force_login(admin_user)
    url, answer = deliver(client, curl_example(client, workflow))
    assert url.startswith("http://127.0.0.1:8101/api/hooks/")
    assert answer.status_code == 202, answer.content
    assert Execution.objects.filter(workflow=workflow).count() == 1


def test_viewers_see_the_header_to_send_but_not_the_secret(client):
    workflow = workflow_with_steps([log_step("greet")])
    trigger = TriggerFactory(workflow=workflow, kind="webhook", config={"auth": "token"})
    viewer = UserFactory(username="watcher", is_staff=True, roles=[VIEWERS])
    client.force_login(viewer)
    example = curl_example(client, workflow)
    assert "X-Webhook-Token: …" in example and trigger.secrets[0] not in example
