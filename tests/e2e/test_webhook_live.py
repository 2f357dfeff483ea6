"""A signed Stripe-style webhook POSTed over real HTTP to a running server starts a run a real worker completes."""

import json

import httpx
import pytest
from rest_framework.authtoken.models import Token

from integrations.webhooks import sign
from tests.e2e.conftest import wait_for
from tests.factories import TriggerFactory, UserFactory, workflow_with_steps
from workflows.services import workflow_activate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_signed_webhook_over_http_runs_to_success(live_server, start_worker):
    owner = UserFactory(username="owner")
    workflow = workflow_with_steps(
        [
            {
                "key": "greet",
                "name": "Welcome Customer",
                "config": {"action": "log", "inputs": {"message": "welcome {{trigger.data.object.email}}"}},
            },
        ],
        owner=owner,
    )
    trigger = TriggerFactory(workflow=workflow, kind="webhook", config={"auth": "stripe"}, secrets=["whsec_live"])
    workflow_activate(workflow=workflow)
    start_worker()
    body = json.dumps(
        {"id": "evt_live_1", "type": "customer.created", "data": {"object": {"email": "ada@example.com"}}}
    ).encode()
    headers = {"Content-Type": "application/json", **sign("stripe", body=body, secret="whsec_live")}
    response = httpx.post(f"{live_server.url}/api/hooks/{trigger.token}/", content=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    token = Token.objects.create(user=owner).key

    def status():
        got = httpx.get(response.json()["status_url"], headers={"Authorization": f"Token {token}"}, timeout=10).json()
        return got if got["status"] in ("succeeded", "failed") else None

    final = wait_for(status, timeout=60, message="the webhook's run to finish")
    assert final["status"] == "succeeded"
    assert final["step_runs"][0]["input"] == {"message": "welcome ada@example.com"}
    replay = httpx.post(f"{live_server.url}/api/hooks/{trigger.token}/", content=body, headers=headers, timeout=10)
    assert replay.json()["execution_id"] == response.json()["execution_id"]
