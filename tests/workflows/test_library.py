"""The template library: every template loads, validates, round-trips, and runs each branch in test mode;
the templates that call vendors send the exact requests to a fake vendor on live runs and record them on test runs."""

import json

import pytest
from django.contrib.auth.models import Group

from executions.events import event_emit
from executions.models import Approval, Execution, Task
from executions.services import execution_start
from integrations.models import KnowledgeArticle
from integrations.webhooks import GENERATED_SECRET, SCHEMES
from tests.factories import EditorFactory, UserFactory
from tests.fakes import FakeServer
from tests.workflows import template_branches as branches
from tests.workflows import vendor_payloads as payloads
from tests.workflows.template_branches import assert_sent, connect, received, shown
from workflows import io
from workflows.library import template_files, template_use, templates_load
from workflows.models import WorkflowTemplate
from workflows.services import WorkflowInvalid, workflow_activate, workflow_validate

VENDOR = set(SCHEMES) - {"none", *GENERATED_SECRET}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def library(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    templates_load()
    return {t.slug: t for t in WorkflowTemplate.objects.all()}


def draft(library, slug):
    return template_use(template=library[slug], owner=EditorFactory(username=f"owner-{slug}"))


@pytest.fixture
def vendor(settings):
    """One fake server standing in for every vendor, answering as each documents."""
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    for (method, route), body in branches.ANSWERS.items():
        server.route(method, route, body=body)
    yield server
    server.close()


def test_loading_is_idempotent_and_leaves_workflows_made_from_templates_alone(library):
    workflow = draft(library, "refund-approval")
    workflow.steps.filter(key="process_refund").update(name="Refund Through Stripe")
    assert templates_load() == {"created": 0, "updated": 0, "unchanged": len(template_files())}
    assert workflow.steps.get(key="process_refund").name == "Refund Through Stripe"


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.stem)
def test_every_template_validates_round_trips_and_runs_its_sample_in_test_mode(library, path):
    slug = next(t.slug for t in library.values() if t.name == io.parse(path.read_text())["name"])
    workflow = draft(library, slug)
    vendor_steps = branches.CONNECTOR_STEPS.get(slug, {})
    # The only problems: each vendor step's missing connection and each vendor webhook's signing secret (the
    # vendor issues it; activation names both); a test run needs neither.
    problems = {(p.step, p.field) for p in workflow_validate(workflow=workflow)}
    assert problems == {(key, "config.input.connection") for key in vendor_steps} | vendor_secret_fields(workflow)
    assert sorted(set(vendor_steps.values())) == sorted(library[slug].needs.get("connections", []))  # the gallery
    exported = io.workflow_export(workflow=workflow)
    again = io.workflow_export(workflow=template_use(template=library[slug]))
    assert {k: v for k, v in exported.items() if k != "name"} == {k: v for k, v in again.items() if k != "name"}
    assert all(not s.name.lower().startswith("step ") for s in workflow.steps.all())  # the guide's naming advice
    execution = execution_start(
        workflow=workflow, input=workflow.sample_input, is_test=True, trigger_meta={"fast_forward": True}
    )
    execution.refresh_from_db()
    assert execution.status in ("succeeded", "waiting"), execution.error
    for run in execution.step_runs.filter(step_key__in=vendor_steps):
        service = vendor_steps[run.step_key]
        assert run.output["would_send"]["url"].startswith(branches.DEFAULT_BASE[service]) and not run.requests


# template, the trigger part changed and how, the vendor steps and the calls they would make (in this order)
TEST_RUNS = [
    ("refund-approval", "refund", {"amount": 40}, {"process_refund": branches.refund_call(40)}),
    (
        "lead-qualification",
        "lead",
        branches.LEADS[1][0],
        {"add_to_nurture": branches.nurture_call(), "create_crm_record": branches.crm_call("warm")},
    ),
    ("employee-onboarding", "employee", {}, {"create_email_account": branches.account_call()}),
    (
        "support-ticket-escalation",
        "ticket",
        {"subject": "Site is down, total outage!", "description": ""},
        {"alert_support_channel": branches.alert_call("critical", "Site is down, total outage!")},
    ),
]


@pytest.mark.parametrize("connected", [True, False], ids=["connected", "no-connection"])
@pytest.mark.parametrize(("slug", "part", "changes", "calls"), TEST_RUNS, ids=[t[0] for t in TEST_RUNS])
def test_a_test_run_records_each_vendor_request_and_sends_nothing(
    library, vendor, slug, part, changes, calls, connected
):
    if connected:
        connect(vendor, *branches.CONNECTOR_STEPS[slug].values())
    workflow = draft(library, slug)
    payload = branches.merged(workflow.sample_input, part, **changes)
    execution = execution_start(workflow=workflow, input=payload, is_test=True, trigger_meta={"fast_forward": True})
    execution.refresh_from_db()
    assert execution.status == "succeeded", execution.error
    for key, call in calls.items():
        run = execution.step_runs.get(step_key=key)
        base = vendor.url if connected else branches.DEFAULT_BASE[branches.CONNECTOR_STEPS[slug][key]]
        assert run.output["test_mode"] is True and shown(run.output["would_send"], base) == call.as_shown()
        assert not run.requests
    assert vendor.requests == []


@pytest.mark.parametrize("slug", sorted(branches.CONNECTOR_STEPS))
def test_activation_names_each_missing_connection_then_activates_once_they_exist(library, vendor, slug):
    vendor_steps = branches.CONNECTOR_STEPS[slug]
    workflow = draft(library, slug)
    with pytest.raises(WorkflowInvalid) as refused:
        workflow_activate(workflow=workflow)
    problems = refused.value.problems
    assert {(p.step, p.field) for p in problems} == {(key, "config.input.connection") for key in vendor_steps}
    assert all(f"no {vendor_steps[p.step]} connection (any) yet" in p.message for p in problems)
    connect(vendor, *vendor_steps.values())
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    assert workflow.status == "active"


def path(execution):
    execution.refresh_from_db()
    return list(execution.step_runs.order_by("id").values_list("step_key", flat=True))


def vendor_secret_fields(workflow):
    """The webhook triggers that check a secret the vendor issues (Stripe's, Shopify's): none is generated."""
    triggers = enumerate(workflow.triggers.order_by("id"))
    return {(None, f"triggers[{i}].secrets") for i, t in triggers if t.kind == "webhook" and t.auth_scheme in VENDOR}


def live(library, slug, inventory=None):
    workflow = draft(library, slug)
    if inventory:  # the order templates' stock look-ups, pointed at the fake inventory before activation
        branches.aim_inventory(workflow, inventory)
    for trigger in workflow.triggers.filter(kind="webhook"):
        if trigger.auth_scheme in VENDOR:
            trigger.secrets = ["whsec_pasted_from_the_vendor"]  # what the page asks for before activation
            trigger.save()
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    return workflow


@pytest.mark.parametrize(("subject", "with_article", "urgency", "route"), branches.TICKETS)
def test_support_escalation_branches_alert_slack_only_when_escalated(
    library, vendor, subject, with_article, urgency, route
):
    if with_article:
        KnowledgeArticle.objects.create(**branches.ARTICLE)
    connect(vendor, "slack")
    workflow = live(library, "support-ticket-escalation")
    payload = branches.merged(workflow.sample_input, "ticket", subject=subject, description="")
    execution = execution_start(workflow=workflow, input=payload)
    steps = path(execution)
    assert execution.step_runs.get(step_key="classify_urgency").output["label"] == urgency
    assert route in steps and steps[-1] == "send_confirmation" and execution.status == "succeeded"
    if route == "escalate":
        assert Task.objects.get().title.startswith(f"[{urgency.upper()}]")
        assert steps[-3:] == ["escalate", "alert_support_channel", "send_confirmation"]
        assert_sent(vendor, execution, {"alert_support_channel": branches.alert_call(urgency, subject)})
    else:
        assert "alert_support_channel" not in steps and vendor.requests == []


@pytest.mark.parametrize(("lead", "label", "last"), branches.LEADS)
def test_lead_qualification_routes_hot_warm_cold_into_hubspot_and_warm_into_mailchimp(
    library, vendor, lead, label, last
):
    connect(vendor, "hubspot", "mailchimp")
    workflow = live(library, "lead-qualification")
    payload = branches.merged(workflow.sample_input, "lead", **lead)
    execution = execution_start(workflow=workflow, input=payload)
    steps = path(execution)
    score = execution.step_runs.get(step_key="score_lead").output
    assert score["label"] == label
    expected = branches.LEAD_ROUTES[label]
    assert expected in steps and steps[-2:] == ["create_crm_record", last]
    nurture = {"add_to_nurture": branches.nurture_call()} if label == "warm" else {}
    assert_sent(vendor, execution, {**nurture, "create_crm_record": branches.crm_call(label)})
    execution.refresh_from_db()
    output = {"email": branches.LEAD_EMAIL, "company": "Navy Labs", "score": score["score"], "stage": label}
    assert execution.status == "succeeded" and execution.output == output


def test_lead_qualification_rejects_an_invalid_email(library, vendor):
    connect(vendor, "hubspot", "mailchimp")
    workflow = live(library, "lead-qualification")
    execution = execution_start(workflow=workflow, input={"lead": {**workflow.sample_input["lead"], "email": "nope"}})
    execution.refresh_from_db()
    assert execution.status == "failed" and "Invalid e-mail address" in execution.error
    assert vendor.requests == []


@pytest.mark.parametrize(("amount", "decision", "last"), branches.REFUNDS)
def test_refund_approval_below_and_above_100_refunds_in_stripe_unless_rejected(library, vendor, amount, decision, last):
    manager = UserFactory(username="boss")
    Group.objects.get(name="Managers").user_set.add(manager)
    connect(vendor, "stripe")
    workflow = live(library, "refund-approval")
    payload = branches.merged(workflow.sample_input, "refund", amount=amount)
    execution = execution_start(workflow=workflow, input=payload)
    if decision:
        from executions.approvals import approval_decide

        approval_decide(approval_id=Approval.objects.get().pk, user=manager, decision=decision, comment="checked")
    assert path(execution)[-1] == last
    execution.refresh_from_db()
    assert execution.status == "succeeded"
    if decision == "reject":
        assert vendor.requests == [] and "process_refund" not in path(execution)
        return
    assert_sent(vendor, execution, {"process_refund": branches.refund_call(amount)})
    key = f"faos-{execution.pk}-process_refund"  # the step's key, the same on every retry: Stripe spots a replay
    assert {k.lower(): v for k, v in vendor.requests[0].headers.items()}["idempotency-key"] == key
    assert execution.step_runs.get(step_key="process_refund").requests[0]["headers"]["Idempotency-Key"] == key


def test_invoice_collection_paid_after_the_first_reminder_vs_escalated(library):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from executions.runtime.sweep import sweep

    workflow = live(library, "invoice-collection")
    paid = execution_start(workflow=workflow, input=workflow.sample_input)
    event_emit(type="invoice.paid", data={"invoice_id": "INV-2041"})
    assert path(paid)[-1] == "paid"
    other = {**workflow.sample_input, "invoice": {**workflow.sample_input["invoice"], "id": "INV-9"}}
    unpaid = execution_start(workflow=workflow, input=other)
    for days in (3, 8):
        with time_machine.travel(timezone.now() + timedelta(days=days, minutes=1), tick=False):
            sweep()
    assert path(unpaid)[-2:] == ["wait_again", "escalate"]
    assert Task.objects.get().title.startswith("Overdue invoice 2041")
    assert Execution.objects.get(pk=unpaid.pk).status == "succeeded"


def test_the_gallery_shows_cards_and_use_template_opens_a_new_draft(library, client, admin_user):
    from django.urls import reverse

    client.force_login(admin_user)
    page = client.get(reverse("admin:workflows_workflowtemplate_changelist")).content.decode()
    assert "Support Ticket Escalation" in page and "Use this when:" in page and "Classify Ticket Urgency" in page
    assert "Needs: agent Customer Service Agent · connection slack" in page  # the connections a template uses
    assert "Needs: connection google_workspace<" in page  # no agent: no dangling separator
    template = library["support-ticket-escalation"]
    assert client.get(reverse("admin:workflows_workflowtemplate_use", args=[template.pk])).status_code == 405
    response = client.post(reverse("admin:workflows_workflowtemplate_use", args=[template.pk]))
    from workflows.models import Workflow

    workflow = Workflow.objects.get(template_slug="support-ticket-escalation")
    assert response.url == reverse("admin:workflows_workflow_change", args=[workflow.pk])
    assert workflow.status == "draft" and workflow.steps.count() == 8 and workflow.owner == admin_user


def _after(delta):
    import time_machine
    from django.utils import timezone

    from executions.runtime.sweep import sweep

    with time_machine.travel(timezone.now() + delta, tick=False):
        sweep()


@pytest.mark.parametrize(("text", "branch"), branches.FEEDBACK)
def test_feedback_loop_positive_vs_negative_after_the_one_hour_wait(library, text, branch):
    from datetime import timedelta

    workflow = live(library, "customer-feedback-loop")
    execution = execution_start(workflow=workflow, input={**workflow.sample_input, "feedback": {"text": text}})
    assert path(execution) == ["wait_an_hour"]
    _after(timedelta(hours=1, seconds=5))
    steps = path(execution)
    assert branch in steps and steps[-1] == "log_feedback"


def test_proposal_follow_up_with_a_reply_vs_none(library):
    from datetime import timedelta

    workflow = live(library, "proposal-follow-up")
    replied = execution_start(workflow=workflow, input=workflow.sample_input)
    event_emit(type="proposal.replied", data={"proposal_id": "P-7"})
    assert path(replied) == ["wait_two_days", "schedule_meeting"]
    other = {**workflow.sample_input, "proposal": {**workflow.sample_input["proposal"], "id": "P-8"}}
    silent = execution_start(workflow=workflow, input=other)
    for days in (2, 5, 8):
        _after(timedelta(days=days, minutes=1))
    assert path(silent) == [
        "wait_two_days",
        "friendly_check_in",
        "wait_three_more_days",
        "value_reminder",
        "last_chance",
        "notify_sales_rep",
    ]


@pytest.fixture
def bank(settings):
    from tests.fakes import FakeServer

    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    yield server
    server.close()


@pytest.mark.parametrize(("statuses", "last"), branches.TRANSFERS)
def test_bank_transfer_pending_then_completed_or_failed(library, bank, statuses, last):
    from datetime import timedelta

    workflow = live(library, "bank-transfer-wait-retry")
    payload = branches.merged(workflow.sample_input, "transfer", status_url=f"{bank.url}/tr")
    bank.route("GET", "/tr", body={"status": statuses[0]})
    execution = execution_start(workflow=workflow, input=payload)
    _after(timedelta(hours=1, seconds=5))
    if len(statuses) > 1:
        bank.route("GET", "/tr", body={"status": statuses[1]})
        _after(timedelta(hours=1, minutes=31))
    steps = path(execution)
    assert steps[-1] == last and steps.count("check_status") == len(statuses)


@pytest.mark.parametrize(("missing", "last"), branches.INVENTORY)
def test_inventory_fan_out_all_available_vs_one_missing(library, bank, missing, last):
    workflow = live(library, "order-inventory-fan-out", inventory=bank.url)
    skus = [item["sku"] for item in workflow.sample_input["line_items"]]
    branches.stock(bank, skus, missing)
    execution = execution_start(workflow=workflow, input=workflow.sample_input)
    assert path(execution)[-1] == last
    assert sorted(r.path for r in bank.requests) == sorted(
        f"/api/inventory/{sku}?qty={q}"
        for sku, q in zip(skus, [item["quantity"] for item in workflow.sample_input["line_items"]], strict=True)
    )
    if missing:
        execution.refresh_from_db()
        assert execution.variables["unavailable"] == ["C-3"]


def test_employee_onboarding_creates_the_google_account_then_runs_the_day_before_reminder(library, vendor, mailoutbox):
    from datetime import datetime, timedelta

    from django.utils import timezone

    connect(vendor, "google_workspace")
    workflow = live(library, "employee-onboarding")
    start = (timezone.now() + timedelta(days=10)).replace(microsecond=0)
    payload = {"employee": {**workflow.sample_input["employee"], "start_date": start.isoformat()}}
    execution = execution_start(workflow=workflow, input=payload)
    assert path(execution)[-1] == "until_day_before" and Task.objects.count() == 4
    assert_sent(vendor, execution, {"create_email_account": branches.account_call()})
    password = received(vendor.requests[0]).body["password"]
    assert len(password) == 24 and password not in json.dumps(list(execution.step_runs.values("input", "output")))
    wake = execution.step_runs.get(step_key="until_day_before").wake_at
    assert abs((wake - (start - timedelta(days=1))).total_seconds()) < 1
    _after(wake - timezone.now() + timedelta(seconds=5))
    assert path(execution)[-1] == "day_before_reminder"
    assert mailoutbox[-1].subject == "See you tomorrow!" and isinstance(start, datetime)


@pytest.mark.parametrize(("plan", "expected"), branches.PLANS)
def test_new_customer_onboarding_premium_vs_standard(library, plan, expected, mailoutbox):
    workflow = live(library, "new-customer-onboarding")
    payload = payloads.stripe_customer_created(metadata={} if plan is None else {"plan": plan})
    execution = execution_start(workflow=workflow, input=payload)
    execution.refresh_from_db()
    steps = set(path(execution))
    assert execution.status == "succeeded" and expected <= steps
    assert mailoutbox[0].subject == "Welcome, Ada Lovelace!"  # sent by the agent, which may send e-mail
    assert mailoutbox[0].body.endswith(f"Your plan: {plan or 'standard'}.") and mailoutbox[0].to == ["ada@example.com"]


@pytest.mark.parametrize(("in_stock", "last"), branches.STOCK)
def test_fulfilment_in_stock_vs_backorder(library, bank, in_stock, last):
    workflow = live(library, "ecommerce-order-fulfillment", inventory=bank.url)
    branches.stock(bank, ["IPOD2008GREEN"], missing=() if in_stock else ["IPOD2008GREEN"])
    assert path(execution_start(workflow=workflow, input=payloads.shopify_order()))[-1] == last
    assert [r.path for r in bank.requests] == ["/api/stock?skus=IPOD2008GREEN%3A1"]


@pytest.mark.parametrize(("similarity", "title", "decision", "last"), branches.CONTENT)
def test_content_passing_vs_failing_checks_approved_vs_rejected(library, similarity, title, decision, last):
    from executions.approvals import approval_decide

    editor = UserFactory(username="ed")
    Group.objects.get(name="Editors").user_set.add(editor)
    workflow = live(library, "content-approval-pipeline")
    content = {**workflow.sample_input["content"], "similarity": similarity, "title": title}
    execution = execution_start(workflow=workflow, input={"content": content})
    if decision:
        approval_decide(approval_id=Approval.objects.get().pk, user=editor, decision=decision, comment="see notes")
    assert path(execution)[-1] == last


@pytest.mark.parametrize(("card", "charge_status", "last"), branches.RENEWALS)
def test_renewal_expiring_card_charge_success_and_three_failed_retries(library, bank, card, charge_status, last):
    from datetime import timedelta

    from django.utils import timezone

    bank.route("POST", "/charge", status=charge_status, body={"ok": charge_status == 200})
    workflow = live(library, "subscription-renewal")
    renews = (timezone.now() + timedelta(days=7)).replace(microsecond=0)
    subscription = {
        **workflow.sample_input["subscription"],
        "renews_at": renews.isoformat(),
        "card_expires": card,
        "charge_url": f"{bank.url}/charge",
    }
    execution = execution_start(workflow=workflow, input={**workflow.sample_input, "subscription": subscription})
    _after(timedelta(days=3, minutes=1))
    assert ("request_payment_update" in path(execution)) is (card < renews.date().isoformat())
    for hours in (0, 1, 3):  # renewal day, then the 1 h and 2 h back-off retries
        _after(renews - timezone.now() + timedelta(hours=hours, seconds=30 * (hours + 1)))
    steps = path(execution)
    assert steps[-1] == last
    assert steps.count("attempt_charge") == (1 if charge_status == 200 else 3)
