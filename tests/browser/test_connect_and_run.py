"""A new user connects Slack and Stripe in the browser, tests both, and a run posts to Slack on a real worker."""

import pytest

from executions.models import Execution
from tests.browser.conftest import connect, login, shot
from tests.e2e.conftest import wait_for
from tests.factories import workflow_with_steps
from workflows.models import Agent
from workflows.services import workflow_activate

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BOT_TOKEN = "xoxb-browser-canary-123456"
STRIPE_KEY = "sk_test_browser_canary_123456"


def ticket_workflow():
    """The issue's workflow: an agent classifies the ticket, then a Slack step posts the label."""
    Agent.objects.create(name="Triage", role="Support", allowed_actions=["classify"])
    classify = {"agent": "Triage", "action": "classify", "input": {"text": "{{trigger.subject}}"}}
    classify |= {"labels": ["low", "critical"], "rules": {"critical": ["outage"]}, "default": "low"}
    text = "[{{triage.result.label}}] {{trigger.subject}}"
    post = {"action": "slack.post_message", "inputs": {"channel": "#support", "text": text}}
    return workflow_with_steps(
        [
            {"key": "triage", "name": "Classify Ticket", "kind": "agent", "config": classify},
            {"key": "notify", "name": "Post To Slack", "config": post},
        ],
        name="Ticket To Slack",
    )


def test_connect_slack_and_stripe_then_a_run_shows_the_exact_slack_request(
    live_server, start_worker, page, fake_server, django_user_model, settings
):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]  # the live server's thread calls the fake vendor
    fake_server.route("POST", "/api/auth.test", body={"ok": True, "team": "Acme", "user": "faos"})
    fake_server.route("POST", "/api/chat.postMessage", body={"ok": True, "channel": "C42", "ts": "1700.5"})
    fake_server.route("GET", "/v1/balance", body={"object": "balance", "available": []})
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    login(page, live_server.url, "owner", "pw-owner-123")
    connect(page, live_server.url, "slack", {"bot_token": BOT_TOKEN, "base_url": fake_server.url})
    connect(page, live_server.url, "stripe", {"secret_key": STRIPE_KEY, "base_url": fake_server.url})
    shot(page, "connection-tested")

    workflow = ticket_workflow()
    workflow_activate(workflow=workflow)
    start_worker()
    page.goto(f"{live_server.url}/admin/workflows/workflow/{workflow.pk}/run/")
    page.fill("textarea[name=input]", '{"subject": "Checkout outage since 9:00"}')
    page.click("input[name=_run]")
    execution = wait_for(lambda: Execution.objects.filter(workflow=workflow).first(), message="the run")
    wait_for(lambda: Execution.objects.get(pk=execution.pk).status == "succeeded", message="the run to succeed")
    page.reload()
    html = page.content()
    shot(page, "connector-request")
    assert "chat.postMessage" in html and "[critical] Checkout outage since 9:00" in html
    assert "[redacted]" in html and BOT_TOKEN not in html and STRIPE_KEY not in html
    sent = fake_server.requests[-1]
    assert sent.path == "/api/chat.postMessage" and sent.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert sent.json() == {"channel": "#support", "text": "[critical] Checkout outage since 9:00"}
