"""Webhook triggers: provider signatures on the raw body, idempotent delivery, and every bad-input status."""

import json
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from executions.models import Execution, StepRun
from integrations.webhooks import sign
from tests.factories import TriggerFactory, workflow_with_steps
from tests.vendor import postgresql_only
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_test_123"


def hook(auth="stripe", **config):
    workflow = workflow_with_steps(
        [
            {
                "key": "greet",
                "name": "Greet",
                "config": {
                    "action": "log",
                    "inputs": {"message": "{{trigger.type ?? 'no type'}}"},
                },
            }
        ]
    )
    trigger = TriggerFactory(workflow=workflow, kind="webhook", config={"auth": auth, **config}, secrets=[SECRET])
    workflow_activate(workflow=workflow)
    return trigger


def post(trigger, payload, headers=None, content_type="application/json", raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    return APIClient().post(f"/api/hooks/{trigger.token}/", body, content_type=content_type, **extra)


def signed(scheme, payload, secret=SECRET, **kw):
    body = json.dumps(payload).encode()
    return body, sign(scheme, body=body, secret=secret, **kw)


STRIPE_EVENT = {"id": "evt_1", "type": "customer.created", "data": {"object": {"email": "ada@example.com"}}}


@pytest.mark.parametrize("scheme", ["token", "hmac_sha256", "stripe", "shopify", "woocommerce", "slack", "zendesk"])
def test_a_correctly_signed_delivery_starts_one_run_and_answers_202(scheme):
    trigger = hook(scheme)
    body, headers = signed(scheme, STRIPE_EVENT)
    response = post(trigger, None, headers, raw=body)
    assert response.status_code == 202, response.json()
    execution = Execution.objects.get()
    assert response.json()["execution_id"] == execution.pk and response.json()["status_url"].endswith(
        f"/api/executions/{execution.pk}/"
    )
    assert execution.input == STRIPE_EVENT and execution.trigger_kind == "webhook"


@pytest.mark.parametrize("scheme", ["token", "hmac_sha256", "stripe", "shopify", "woocommerce", "slack", "zendesk"])
def test_wrong_or_missing_signatures_are_refused_and_create_nothing(scheme):
    trigger = hook(scheme)
    body, headers = signed(scheme, STRIPE_EVENT, secret="not-the-secret")
    assert post(trigger, None, headers, raw=body).status_code == 403
    body, headers = signed(scheme, STRIPE_EVENT)
    if scheme != "token":  # a plain token does not sign the body
        assert post(trigger, None, headers, raw=body.replace(b"ada", b"eve")).status_code == 403
    assert post(trigger, STRIPE_EVENT).status_code == 401
    assert Execution.objects.count() == 0


def test_hubspot_v3_signs_method_url_body_and_timestamp():
    trigger = hook("hubspot_v3")
    body = json.dumps([{"objectId": 1}]).encode()
    url = f"http://testserver/api/hooks/{trigger.token}/"
    headers = sign("hubspot_v3", body=body, secret=SECRET, url=url)
    response = post(trigger, None, headers, raw=json.dumps({"events": [1]}).encode())
    assert response.status_code == 403
    body = json.dumps({"events": [1]}).encode()
    headers = sign("hubspot_v3", body=body, secret=SECRET, url=url)
    assert post(trigger, None, headers, raw=body).status_code == 202


def test_stripe_replayed_timestamps_are_refused_and_rotated_secrets_accepted():
    trigger = hook("stripe")
    body, headers = signed("stripe", STRIPE_EVENT, timestamp=int(time.time()) - 600)
    response = post(trigger, None, headers, raw=body)
    assert response.status_code == 403 and "window" in response.json()["detail"]
    trigger.secrets = ["whsec_new", SECRET]
    trigger.save()
    body, headers = signed("stripe", STRIPE_EVENT)
    assert post(trigger, None, headers, raw=body).status_code == 202


def test_the_secret_is_stored_encrypted():
    trigger = hook("token")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM workflows_trigger WHERE id = %s", [trigger.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and stored.startswith("gAAAA")


def test_the_same_delivery_twice_yields_one_execution():
    trigger = hook("stripe")
    body, headers = signed("stripe", STRIPE_EVENT)
    first, second = post(trigger, None, headers, raw=body), post(trigger, None, headers, raw=body)
    assert first.json()["execution_id"] == second.json()["execution_id"] and Execution.objects.count() == 1
    other = hook("token")
    for _ in range(2):
        post(other, {"a": 1}, {"X-Webhook-Token": SECRET, "Idempotency-Key": "k-1"})
    assert Execution.objects.filter(workflow=other.workflow).count() == 1


@postgresql_only("concurrent writers need PostgreSQL; SQLite serialises them")
def test_the_same_delivery_at_the_same_moment_yields_one_execution():
    trigger = hook("stripe")
    body, headers = signed("stripe", STRIPE_EVENT)
    barrier, codes = threading.Barrier(4), []

    def deliver():
        barrier.wait()
        try:
            codes.append(post(trigger, None, headers, raw=body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [202] * 4 and Execution.objects.count() == 1


def test_bad_requests_get_a_clear_status_and_create_nothing(settings):
    settings.FAOS_WEBHOOK_MAX_BYTES = 200
    trigger = hook("none")
    assert post(trigger, None, raw=b'{"a": ', content_type="application/json").status_code == 400
    assert post(trigger, None, raw=b"[1, 2]").json() == {"body": ["The body must be a JSON object."]}
    assert post(trigger, None, raw=b"a=1", content_type="application/x-www-form-urlencoded").status_code == 415
    assert post(trigger, {"x": "y" * 500}).status_code == 413
    assert APIClient().post("/api/hooks/nope/", {}, format="json").status_code == 404
    trigger.workflow.status = "paused"
    trigger.workflow.save()
    assert post(trigger, {"a": 1}).status_code == 409
    assert Execution.objects.count() == 0


def test_rate_limit_answers_429():
    trigger = hook("none", rate_per_minute=2)
    codes = [post(trigger, {"n": i}).status_code for i in range(3)]
    assert codes == [202, 202, 429]


def test_a_filter_only_starts_matching_deliveries():
    trigger = hook("none", filter='trigger.type == "customer.created"')
    skipped = post(trigger, {"type": "invoice.paid"})
    assert skipped.status_code == 200 and skipped.json()["started"] is False
    assert post(trigger, {"type": "customer.created"}).status_code == 202
    assert Execution.objects.count() == 1


def test_signed_stripe_event_replayed_with_new_idempotency_key_starts_one_run():
    trigger = hook("stripe")
    body, headers = signed("stripe", STRIPE_EVENT)
    first = post(trigger, None, {**headers, "Idempotency-Key": "first"}, raw=body)
    replay = post(trigger, None, {**headers, "Idempotency-Key": "second"}, raw=body)
    assert first.status_code == replay.status_code == 202
    assert first.json()["execution_id"] == replay.json()["execution_id"] and Execution.objects.count() == 1


@pytest.mark.parametrize("scheme", ["shopify", "woocommerce", "slack", "hubspot_v3", "zendesk"])
def test_signed_delivery_replayed_inside_its_window_starts_one_run(scheme):
    trigger = hook(scheme)
    payload = {"order": 1001, "type": "orders/create"}
    body, headers = signed(scheme, payload, url=f"http://testserver/api/hooks/{trigger.token}/")
    for n in range(3):  # the unsigned ids a replayer may change
        extra = {"Idempotency-Key": f"k-{n}", "X-Shopify-Webhook-Id": f"w-{n}", "X-Slack-Retry-Num": str(n)}
        assert post(trigger, None, {**headers, **extra}, raw=body).status_code == 202
    assert Execution.objects.count() == 1
    body, headers = signed(scheme, {**payload, "order": 1002}, url=f"http://testserver/api/hooks/{trigger.token}/")
    assert post(trigger, None, headers, raw=body).status_code == 202 and Execution.objects.count() == 2


def test_unsigned_request_to_inactive_hook_reveals_nothing():
    trigger = hook("stripe")
    trigger.workflow.name = "Refund big customers"
    trigger.workflow.save()
    trigger.workflow.status = "paused"
    trigger.workflow.save()
    for attempt in (post(trigger, STRIPE_EVENT), post(trigger, None, raw=b"a=1", content_type="text/csv")):
        assert attempt.status_code == 401 and "Refund" not in attempt.content.decode()
    body, headers = signed("stripe", STRIPE_EVENT, secret="not-the-secret")
    attempt = post(trigger, None, headers, raw=body)
    assert attempt.status_code == 403 and "Refund" not in attempt.content.decode()
    body, headers = signed("stripe", STRIPE_EVENT)
    signed_attempt = post(trigger, None, headers, raw=body)
    assert signed_attempt.status_code == 409 and "Refund" not in signed_attempt.content.decode()
    assert Execution.objects.count() == 0


def test_bad_signature_attempts_are_throttled(throttle_rates):
    throttle_rates(webhook_signature_failures="3/minute")
    trigger, other = hook("stripe"), hook("token")
    body, headers = signed("stripe", STRIPE_EVENT, secret="not-the-secret")
    forged = [{**headers, "X-Forwarded-For": f"203.0.113.{n}"} for n in range(3)]  # no fresh address per try
    assert [post(trigger, None, h, raw=body).status_code for h in forged] == [403, 403, 403]
    body, headers = signed("stripe", STRIPE_EVENT)
    for refused in (post(trigger, None, headers, raw=body), post(other, {"a": 1}, {"X-Webhook-Token": SECRET})):
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert refused.json() == {"detail": "Too many failed attempts; try again later."}
    assert Execution.objects.count() == 0


def test_guessing_hook_addresses_is_throttled(throttle_rates):
    throttle_rates(webhook_signature_failures="2/minute")
    codes = [APIClient().post(f"/api/hooks/guess-{n}/", {}, format="json").status_code for n in range(3)]
    assert codes == [404, 404, 429]


def test_hook_rate_limit_answers_429_with_retry_after():
    trigger = hook("none", rate_per_minute=1)
    assert post(trigger, {"n": 1}).status_code == 202
    refused = post(trigger, {"n": 2})
    assert refused.status_code == 429 and refused["Retry-After"] == "60"


@postgresql_only("PostgreSQL writes a run and its first step in one INSERT; SQLite takes two and a transaction")
def test_an_accepted_delivery_is_three_statements_and_no_transaction_round_trips(no_tasks):
    """The trigger's read (with its workflow and version), the run with its first step, the delivery counter."""
    from django.test.utils import CaptureQueriesContext

    trigger = hook("hmac_sha256")
    body, headers = signed("hmac_sha256", {"id": "evt_9"})
    with CaptureQueriesContext(connection) as captured:
        assert post(trigger, None, headers, raw=body).status_code == 202
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 3, statements
    assert statements[0].startswith("SELECT") and "workflows_trigger" in statements[0]
    assert statements[1].startswith("WITH e AS (INSERT INTO executions_execution")
    assert "ops_counter" in statements[2]
    assert Execution.objects.get().step_runs.count() == 1


@postgresql_only("PostgreSQL writes a run and its first step in one INSERT that skips a taken key")
def test_a_delivery_with_a_signed_id_is_three_statements_and_its_repeat_answers_the_same_run_without_an_error(no_tasks):
    """No look-up before the INSERT: it skips a taken key (ON CONFLICT DO NOTHING), and only a repeat reads the run."""
    from django.test.utils import CaptureQueriesContext

    trigger = hook("stripe")
    body, headers = signed("stripe", STRIPE_EVENT)
    with CaptureQueriesContext(connection) as first:
        accepted = post(trigger, None, headers, raw=body)
    with CaptureQueriesContext(connection) as again:
        repeated = post(trigger, None, headers, raw=body)
    assert accepted.status_code == repeated.status_code == 202
    assert accepted.json()["execution_id"] == repeated.json()["execution_id"] and Execution.objects.count() == 1
    assert len(first.captured_queries) == 3, [query["sql"] for query in first.captured_queries]
    assert "ON CONFLICT" in first.captured_queries[1]["sql"] and StepRun.objects.count() == 1
    repeat = [query["sql"] for query in again.captured_queries]  # the skipped INSERT raised nothing in SQL
    assert len(repeat) == 4 and "ON CONFLICT" in repeat[1] and repeat[2].startswith("SELECT"), repeat
