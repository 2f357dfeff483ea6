"""Templates triggered by a vendor's webhook run with what that vendor documents it sends (issue 15).

Each delivery in tests/workflows/vendor_payloads.py runs through the real engine twice: as a test run of the
template's draft, and signed as the vendor signs it, POSTed to the activated template's webhook address.
"""

import json
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

import pytest
from rest_framework.test import APIClient

from executions.models import Execution
from executions.services import execution_start
from integrations.models import KnowledgeArticle
from integrations.webhooks import GENERATED_SECRET, SCHEMES, sign
from tests.factories import EditorFactory
from tests.fakes import FakeServer
from tests.workflows import template_branches as branches
from tests.workflows import vendor_payloads as payloads
from workflows import io
from workflows.library import template_files, template_use, templates_load
from workflows.models import WorkflowTemplate
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)

VENDOR_SCHEMES = set(SCHEMES) - {"none", *GENERATED_SECRET}
# Vendors a template's trigger_summary may name; a webhook template naming one needs that vendor's deliveries.
VENDOR_NAMES = {
    "stripe": "Stripe",
    "shopify": "Shopify",
    "woocommerce": "WooCommerce",
    "zendesk": "Zendesk",
    "freshdesk": "Freshdesk",
    "hubspot": "HubSpot",
    "slack": "Slack",
    "paypal": "PayPal",
    "typeform": "Typeform",
    "bamboohr": "BambooHR",
    "personio": "Personio",
}
# How each vendor authenticates its deliveries to the template (Freshdesk sends a custom header: a token).
SCHEME = {"stripe": "stripe", "shopify": "shopify", "woocommerce": "woocommerce", "zendesk": "zendesk"}
SECRET = "whsec_pasted_from_the_vendor"
CASES = [(slug, name, delivery) for slug, cases in payloads.DELIVERIES.items() for name, delivery in cases.items()]
IDS = [f"{slug}-{name}" for slug, name, _ in CASES]


def vendor_webhook_templates() -> dict[str, set[str]]:
    """Each template with a webhook trigger from a vendor (by its auth scheme or its summary): the vendors."""
    found = {}
    for path in template_files():
        data = io.parse(path.read_text())
        hooks = [t for t in data.get("triggers", []) if t.get("kind") == "webhook"]
        schemes = {(t.get("config") or {}).get("auth") for t in hooks} & VENDOR_SCHEMES
        summary = data.get("trigger_summary", "").lower()
        named = {vendor for vendor, name in VENDOR_NAMES.items() if name.lower() in summary}
        if hooks and (schemes or named):
            found[data["slug"]] = schemes | named
    return found


def test_every_vendor_webhook_template_is_tested_with_each_of_its_vendors_documented_deliveries():
    templates = vendor_webhook_templates()
    assert {"new-customer-onboarding", "ecommerce-order-fulfillment", "order-inventory-fan-out"} <= set(templates)
    missing = {
        slug: sorted(vendors - {d.vendor for d in payloads.DELIVERIES.get(slug, {}).values()})
        for slug, vendors in templates.items()
    }
    assert not any(missing.values()), f"add these vendors' payloads to tests/workflows/vendor_payloads.py: {missing}"


def test_the_vendor_webhook_templates_samples_are_their_vendors_payloads():
    """The sample a draft's test run starts with has the shape a real delivery has."""
    library = {path.stem: io.parse(path.read_text()) for path in template_files()}
    samples = {data["slug"]: data["sample_input"] for data in library.values()}
    event = payloads.stripe_customer_created(metadata={"plan": "premium"})
    assert set(samples["new-customer-onboarding"]) <= set(event) and samples["new-customer-onboarding"]["data"]
    for slug in ("ecommerce-order-fulfillment", "order-inventory-fan-out"):
        assert set(samples[slug]) <= set(payloads.shopify_order()), slug
    assert set(samples["support-ticket-escalation"]["ticket"]) == set(payloads.zendesk_ticket()["ticket"])


@pytest.fixture
def library(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    KnowledgeArticle.objects.create(**branches.ARTICLE)  # the answer the support template finds
    templates_load()
    return {t.slug: t for t in WorkflowTemplate.objects.all()}


@pytest.fixture
def server():
    """The shop's inventory system and Slack, answering as they document."""
    server = FakeServer()
    for (method, route), body in branches.ANSWERS.items():
        server.route(method, route, body=body)
    yield server
    server.close()


def prepared(library, server, slug, delivery):
    """A draft of the template asking the fake inventory, which answers as the delivery's case needs."""
    workflow = template_use(template=WorkflowTemplate.objects.get(slug=slug), owner=EditorFactory(username="owner"))
    branches.aim_inventory(workflow, server.url)
    skus = [item["sku"] for item in delivery.payload.get("line_items", [])]
    branches.stock(server, skus, missing=skus[-1:] if delivery.stock is False else ())
    return workflow


def steps_of(execution) -> set[str]:
    return set(execution.step_runs.values_list("step_key", flat=True))


def assert_took_its_branch(execution, delivery) -> None:
    execution.refresh_from_db()
    assert execution.status == delivery.status, execution.error
    steps = steps_of(execution)
    assert delivery.steps <= steps and not delivery.skipped & steps, sorted(steps)


@pytest.mark.parametrize(("slug", "case", "delivery"), CASES, ids=IDS)
def test_a_test_run_with_the_vendors_delivery_takes_its_branch_and_would_mail_the_customer(
    library, server, slug, case, delivery
):
    workflow = prepared(library, server, slug, delivery)
    meta = {"fast_forward": True, "send_reads": True}  # the stock look-up is read; e-mails are only recorded
    execution = execution_start(workflow=workflow, input=delivery.body, is_test=True, trigger_meta=meta)
    assert_took_its_branch(execution, delivery)
    outputs = execution.step_runs.order_by("id").values_list("output", flat=True)
    mails = [o["would_send"] for o in outputs if isinstance(o, dict) and "to" in o.get("would_send", {})]
    assert [to for mail in mails for to in mail["to"]] == delivery.emails


def deliver(trigger, payload: dict, url: str):
    """POST the payload to the hook as the vendor does: its JSON, signed with the vendor's scheme."""
    body = json.dumps(payload).encode()
    scheme = trigger.auth_scheme
    headers = sign(scheme, body=body, secret=SECRET, url=f"http://testserver{url}")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return APIClient().post(url, body, content_type="application/json", **extra)


@pytest.mark.parametrize(("slug", "case", "delivery"), CASES, ids=IDS)
def test_the_vendors_signed_delivery_to_the_webhook_runs_the_template_and_mails_the_customer(
    library, server, mailoutbox, slug, case, delivery
):
    workflow = prepared(library, server, slug, delivery)
    branches.connect(server, *branches.CONNECTOR_STEPS.get(slug, {}).values())
    trigger = workflow.triggers.get(kind="webhook")
    trigger.config = {**trigger.config, "auth": SCHEME.get(delivery.vendor, "token")}
    trigger.secrets = [SECRET]
    trigger.save()
    workflow_activate(workflow=workflow)
    response = deliver(trigger, delivery.payload, f"/api/hooks/{trigger.token}/")
    assert response.status_code == 202, response.json()
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert_took_its_branch(execution, delivery)
    assert [to for mail in mailoutbox for to in mail.to] == delivery.emails
    if delivery.stock is not None:  # the inventory was asked about the order's own SKUs and quantities
        assert stock_requests(server) == expected_stock_requests(slug, delivery.payload["line_items"])


def stock_requests(server) -> Counter:
    """The requests the fake inventory received: (path, decoded query)."""
    parts = [urlsplit(r.path) for r in server.requests]
    return Counter((p.path, tuple(parse_qsl(p.query))) for p in parts if p.path.startswith(("/api/stock", "/api/inv")))


def expected_stock_requests(slug: str, items: list[dict]) -> Counter:
    if slug == "ecommerce-order-fulfillment":  # one look-up for the order: SKU:quantity, comma-separated
        return Counter({("/api/stock", (("skus", ",".join(f"{i['sku']}:{i['quantity']}" for i in items)),)): 1})
    return Counter((f"/api/inventory/{i['sku']}", (("qty", str(i["quantity"])),)) for i in items)


def test_a_stripe_event_other_than_customer_created_starts_no_onboarding(library, server):
    workflow = prepared(
        library, server, "new-customer-onboarding", payloads.DELIVERIES["new-customer-onboarding"]["stripe-premium"]
    )
    trigger = workflow.triggers.get(kind="webhook")
    trigger.secrets = [SECRET]
    trigger.save()
    workflow_activate(workflow=workflow)
    updated = {**payloads.stripe_customer_created(), "type": "customer.updated"}
    response = deliver(trigger, updated, f"/api/hooks/{trigger.token}/")
    assert response.status_code == 200 and response.json()["started"] is False
    assert Execution.objects.count() == 0


def test_the_step_editor_lists_the_stripe_customers_fields_down_to_its_metadata_plan(library):
    from workflows.variables import available_variables

    workflow = template_use(template=WorkflowTemplate.objects.get(slug="new-customer-onboarding"))
    names = set(available_variables(workflow.steps.get(key="check_plan_type")))
    assert {"trigger.data.object.email", "trigger.data.object.name", "trigger.data.object.metadata.plan"} <= names
