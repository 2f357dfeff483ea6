"""Every template, every branch, on a real `celery worker -B` with the test database and the broker (issue 8).

One worker (with its embedded Beat) serves the whole module. Runs start as the product starts them: live runs
for branches without long waits, and test runs with fast-forward (the admin's "test run, fast-forward") where a
branch waits hours or days. Approvals are decided and events emitted while the run waits on the worker; bank and
inventory answers come from a FakeServer, and so do the vendors' (Stripe, HubSpot, Mailchimp, Google Workspace,
Slack): live runs of the templates that call them go through connections whose base URL is that server, and each
test asserts the exact request the vendor received and what the step run shows of it.

The renewal whose charge fails three times is a live run too (a test run records the charge instead of sending it):
the test moves each timer the run parks on to now, standing in for the days and hours passing, and the worker's
Beat sweep wakes the step as it would then.
"""

import os
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_celery_beat.schedulers import ModelEntry

from executions.approvals import approval_decide
from executions.events import event_emit
from executions.models import Approval, Execution, StepRun
from executions.services import execution_start
from faos.celery import app
from integrations.models import KnowledgeArticle
from tests.e2e.conftest import Worker, database_url, purge_broker, wait_for
from tests.factories import EditorFactory, UserFactory
from tests.fakes import FakeServer, Route
from tests.workflows import template_branches as branches
from tests.workflows import vendor_payloads as payloads
from tests.workflows.template_branches import assert_sent, connect, received
from workflows.library import template_use, templates_load
from workflows.models import WorkflowTemplate
from workflows.services import workflow_activate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SWEEP_EVERY = 1.0  # seconds: the worker's Beat wakes due timers this often
FINISHED = tuple(Execution.FINISHED)
DECIDED = {"approve": "approved", "reject": "rejected"}


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    """One worker for the module; flushing the database between tests does not disturb it."""
    purge_broker()  # messages left by an earlier run point at rows that no longer exist
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FAOS_BROKER_DIR": str(settings.BROKER_DIR),
        "FAOS_SWEEP_INTERVAL": str(SWEEP_EVERY),
        "FAOS_LEASE_GRACE_SECONDS": "1",
        "FAOS_HTTP_ALLOW_HOSTS": "127.0.0.1",
        "EMAIL_URL": "consolemail://",
        "CONN_MAX_AGE": "0",
    }
    worker = Worker(tmp_path_factory.mktemp("worker"), env)
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def module_server():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def server(module_server):
    module_server.requests.clear()
    module_server.routes = {}
    return module_server


@pytest.fixture
def vendor(server):
    """The module's fake server, answering as each vendor documents."""
    for (method, route), body in branches.ANSWERS.items():
        server.route(method, route, body=body)
    return server


@pytest.fixture
def library(worker, transactional_db):
    keep_sweeping()
    templates_load()
    return {t.slug: t for t in WorkflowTemplate.objects.all()}


def keep_sweeping() -> None:
    """The flush between tests empties Beat's table too, and Beat reloads its schedule from that table (on a change,
    at the latest every 5 minutes): put the sweep back, as Beat does when it starts.

    In one transaction: django-celery-beat marks the change *before* saving the entry (a pre_save signal), so in
    autocommit a Beat tick between the two reloads without the sweep and sees no change after it (a due timer then
    never woke: the renewal test, once in three CI runs)."""
    with transaction.atomic():
        ModelEntry.from_entry(
            "faos-sweep", app=app, task="executions.tasks.sweep", schedule=SWEEP_EVERY, options={"expires": 30}
        )


def draft(library, slug):
    return template_use(template=library[slug], owner=EditorFactory(username=f"owner-{slug}"))


def active(library, slug, inventory=None):
    workflow = draft(library, slug)
    if inventory:  # the order templates' stock look-ups, pointed at the fake inventory before activation
        branches.aim_inventory(workflow, inventory)
    for trigger in workflow.triggers.filter(kind="webhook"):
        if not trigger.secrets:  # a vendor's signing secret (Stripe's, Shopify's) is pasted before activation
            trigger.secrets = ["whsec_pasted_from_the_vendor"]
            trigger.save()
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    return workflow


def fast_forwarded(workflow, payload, **meta) -> Execution:
    """A test run of the draft whose waits end at once (side effects recorded, not sent)."""
    return execution_start(workflow=workflow, input=payload, is_test=True, trigger_meta={"fast_forward": True, **meta})


def settle(execution: Execution, statuses=FINISHED, timeout: float = 60) -> Execution:
    def reached():
        execution.refresh_from_db()
        return execution.status in statuses

    wait_for(reached, timeout=timeout, message=f"run #{execution.pk} to reach {statuses}")
    return execution


def succeeded(execution: Execution, timeout: float = 60) -> Execution:
    settle(execution, timeout=timeout)
    assert execution.status == "succeeded", execution.error
    return execution


def path(execution: Execution) -> list[str]:
    """The step keys of the run's succeeded steps, in the order they were started."""
    runs = execution.step_runs.filter(status=StepRun.Status.SUCCEEDED).order_by("id")
    return list(runs.values_list("step_key", flat=True))


def step(execution: Execution, key: str) -> StepRun:
    return execution.step_runs.filter(step_key=key, status=StepRun.Status.SUCCEEDED).latest("id")


def task_titles(execution: Execution) -> list[str]:
    return list(execution.tasks.order_by("id").values_list("title", flat=True))


def recorded_task(execution: Execution, key: str) -> str:
    """The title of the task a test run would have created (test runs record tasks instead of opening them)."""
    return step(execution, key).output["would_create"]["title"]


def decide(execution: Execution, user, decision: str, comment: str) -> None:
    """Decide the run's approval through the approval service while the run waits on the worker."""
    settle(execution, statuses=("waiting",))
    approval = Approval.objects.get(execution=execution)
    approval_decide(approval_id=approval.pk, user=user, decision=decision, comment=comment)


def member_of(group: str, username: str):
    user = UserFactory(username=username)
    Group.objects.get(name=group).user_set.add(user)
    return user


# Support ticket escalation: urgency levels, knowledge-base hit vs escalation


@pytest.mark.parametrize(("subject", "with_article", "urgency", "route"), branches.TICKETS)
def test_a_ticket_is_answered_from_the_knowledge_base_or_escalated_by_urgency_with_a_slack_alert(
    library, vendor, subject, with_article, urgency, route
):
    if with_article:
        KnowledgeArticle.objects.create(**branches.ARTICLE)
    connect(vendor, "slack")
    workflow = active(library, "support-ticket-escalation")
    payload = branches.merged(workflow.sample_input, "ticket", subject=subject, description="")
    execution = succeeded(execution_start(workflow=workflow, input=payload))
    escalated = ["escalate", "alert_support_channel"]
    answer = ["draft_answer", "send_auto_response"] if route == "send_auto_response" else escalated
    assert path(execution) == ["classify_urgency", "check_knowledge_base", "route", *answer, "send_confirmation"]
    assert step(execution, "classify_urgency").output["label"] == urgency
    knowledge = step(execution, "check_knowledge_base").output
    if route == "escalate":
        assert task_titles(execution) == [f"[{urgency.upper()}] Ticket 4711: {subject}"]
        assert with_article or not knowledge["found"]
        assert_sent(vendor, execution, {"alert_support_channel": branches.alert_call(urgency, subject)})
        assert step(execution, "alert_support_channel").output == {"channel": "C0SUPPORT", "ts": "1700000000.000100"}
    else:
        assert vendor.requests == []
        assert knowledge["best"]["url"] == branches.ARTICLE["url"]
        assert step(execution, "send_auto_response").output["subject"] == f"Re: {subject}"


# Customer feedback loop: positive vs negative, after the one-hour wait


@pytest.mark.parametrize(("text", "branch"), branches.FEEDBACK)
def test_feedback_is_thanked_or_escalated_after_the_fast_forwarded_hour(library, text, branch):
    workflow = draft(library, "customer-feedback-loop")
    execution = succeeded(fast_forwarded(workflow, branches.merged(workflow.sample_input, "feedback", text=text)))
    assert path(execution) == [
        "wait_an_hour",
        "send_feedback_request",
        "classify_feedback",
        "route_feedback",
        branch,
        "log_feedback",
    ]
    assert step(execution, "wait_an_hour").output["fast_forwarded"] is True
    sentiment = "positive" if branch == "thank_customer" else "negative"
    assert execution.variables["feedback"] == {"customer": "ann@example.com", "sentiment": sentiment}
    if sentiment == "negative":
        assert recorded_task(execution, branch) == "Unhappy customer: Ann Lee"


# Lead qualification: hot, warm, cold


@pytest.mark.parametrize(("lead", "label", "last"), branches.LEADS)
def test_a_lead_is_routed_hot_warm_or_cold_saved_in_hubspot_and_warm_ones_nurtured_in_mailchimp(
    library, vendor, lead, label, last
):
    connect(vendor, "hubspot", "mailchimp")
    workflow = active(library, "lead-qualification")
    execution = succeeded(
        execution_start(workflow=workflow, input=branches.merged(workflow.sample_input, "lead", **lead))
    )
    route = branches.LEAD_ROUTES[label]
    assert path(execution) == ["verify_contact", "score_lead", "route_lead", route, "create_crm_record", last]
    score = step(execution, "score_lead").output
    assert score["label"] == label
    nurture = {"add_to_nurture": branches.nurture_call()} if label == "warm" else {}
    assert_sent(vendor, execution, {**nurture, "create_crm_record": branches.crm_call(label)})
    assert step(execution, "create_crm_record").output == {"id": "501", "email": branches.LEAD_EMAIL, "created": True}
    company = {"email": branches.LEAD_EMAIL, "company": "Navy Labs"}
    assert execution.output == {**company, "score": score["score"], "stage": label}


def test_a_lead_with_an_invalid_email_is_rejected(library, vendor):
    connect(vendor, "hubspot", "mailchimp")
    workflow = active(library, "lead-qualification")
    execution = settle(
        execution_start(workflow=workflow, input=branches.merged(workflow.sample_input, "lead", email="nope"))
    )
    assert execution.status == "failed" and "Invalid e-mail address: nope" in execution.error
    assert path(execution) == ["verify_contact", "reject"] and vendor.requests == []


# Proposal follow-up: a reply vs none


def test_a_reply_to_a_proposal_books_a_meeting(library):
    workflow = active(library, "proposal-follow-up")
    execution = settle(execution_start(workflow=workflow, input=workflow.sample_input), statuses=("waiting",))
    event_emit(type="proposal.replied", data={"proposal_id": "P-7"})
    assert path(succeeded(execution)) == ["wait_two_days", "schedule_meeting"]
    assert step(execution, "wait_two_days").output["event"]["data"] == {"proposal_id": "P-7"}
    assert task_titles(execution) == ["Book a meeting with Dana Scully about Website redesign"]


def test_a_proposal_without_a_reply_is_chased_twice_then_handed_to_sales(library):
    workflow = draft(library, "proposal-follow-up")
    execution = succeeded(fast_forwarded(workflow, workflow.sample_input))
    assert path(execution) == [
        "wait_two_days",
        "friendly_check_in",
        "wait_three_more_days",
        "value_reminder",
        "last_chance",
        "notify_sales_rep",
    ]
    assert all(step(execution, k).output["timed_out"] for k in ("wait_two_days", "wait_three_more_days", "last_chance"))
    assert recorded_task(execution, "notify_sales_rep") == "No answer on proposal P-7 (Dana Scully)"


# Invoice collection: paid after the first reminder vs escalated


def test_an_invoice_paid_after_the_first_reminder_is_recorded_as_paid(library):
    workflow = active(library, "invoice-collection")
    execution = settle(execution_start(workflow=workflow, input=workflow.sample_input), statuses=("waiting",))
    assert step(execution, "first_reminder").output["subject"] == "Friendly reminder: invoice 2041"
    event_emit(type="invoice.paid", data={"invoice_id": "INV-2041"})
    assert path(succeeded(execution)) == ["first_reminder", "wait_for_payment", "paid"]
    assert execution.output == {"invoice": "INV-2041", "status": "paid"}


def test_an_invoice_never_paid_gets_a_second_reminder_then_escalates(library):
    workflow = draft(library, "invoice-collection")
    execution = succeeded(fast_forwarded(workflow, workflow.sample_input))
    assert path(execution) == ["first_reminder", "wait_for_payment", "second_reminder", "wait_again", "escalate"]
    assert step(execution, "second_reminder").output["would_send"]["subject"].startswith("Second reminder")
    assert recorded_task(execution, "escalate") == "Overdue invoice 2041 (Globex Ltd)"


# Employee onboarding: all seven steps, the day-before reminder woken by the Beat sweep


def test_onboarding_creates_the_google_account_runs_all_seven_steps_and_sends_the_reminder_the_day_before(
    library, vendor
):
    connect(vendor, "google_workspace")
    workflow = active(library, "employee-onboarding")
    start = timezone.now().replace(microsecond=0) + timedelta(days=1, seconds=8)
    payload = branches.merged(workflow.sample_input, "employee", start_date=start.isoformat())
    execution = settle(execution_start(workflow=workflow, input=payload), statuses=("waiting",))
    assert execution.tasks.count() == 4  # the e-mail account is no longer a task for IT: Google creates it
    assert_sent(vendor, execution, {"create_email_account": branches.account_call()})
    assert step(execution, "create_email_account").output["password_generated"] is True
    succeeded(execution, timeout=30)  # woken by the Beat sweep once the day before the start has come
    assert path(execution) == [
        "create_email_account",
        "add_to_team_tools",
        "assign_buddy",
        "send_welcome_package",
        "schedule_orientation",
        "week_one_checklist",
        "until_day_before",
        "day_before_reminder",
    ]
    day_before = start - timedelta(days=1)
    wait = step(execution, "until_day_before")
    assert wait.wake_at == day_before and datetime.fromisoformat(wait.output["waited_until"]) == day_before
    reminder = step(execution, "day_before_reminder")
    assert reminder.started_at >= day_before and reminder.output["subject"] == "See you tomorrow!"


# New customer onboarding: premium vs standard


@pytest.mark.parametrize(("plan", "expected"), branches.PLANS)
def test_a_new_customer_gets_premium_or_standard_onboarding(library, plan, expected):
    workflow = active(library, "new-customer-onboarding")
    event = payloads.stripe_customer_created(metadata={} if plan is None else {"plan": plan})
    execution = succeeded(execution_start(workflow=workflow, input=event))
    steps = path(execution)
    assert steps[:2] == ["verify_customer_email", "check_plan_type"]
    assert set(steps[2:]) == expected | ({"premium_onboarding"} if plan == "premium" else set())
    assert len(task_titles(execution)) == (2 if plan == "premium" else 0)


# Refund approval: below and above $100, approved and rejected


@pytest.mark.parametrize(("amount", "decision", "last"), branches.REFUNDS)
def test_a_refund_above_100_waits_for_a_manager_below_it_goes_straight_through_to_stripe(
    library, vendor, amount, decision, last
):
    manager = member_of("Managers", "boss")
    connect(vendor, "stripe")
    workflow = active(library, "refund-approval")
    execution = execution_start(
        workflow=workflow, input=branches.merged(workflow.sample_input, "refund", amount=amount)
    )
    if decision:
        decide(execution, manager, decision, "checked")
    then = ["process_refund", last] if last == "send_confirmation" else [last]
    asked = ["manager_approval"] if decision else []
    assert path(succeeded(execution)) == ["process_request", "amount_check", *asked, *then]
    if decision:
        assert step(execution, "manager_approval").output["status"] == DECIDED[decision]
    if last == "tell_declined":
        assert step(execution, "tell_declined").input["body"].endswith("we could not approve this refund: checked.")
        assert vendor.requests == []
        return
    assert_sent(vendor, execution, {"process_refund": branches.refund_call(amount)})
    key = f"faos-{execution.pk}-process_refund"  # the step's key, the same on every retry: Stripe spots a replay
    assert {k.lower(): v for k, v in vendor.requests[0].headers.items()}["idempotency-key"] == key
    assert step(execution, "process_refund").requests[0]["headers"]["Idempotency-Key"] == key


# Bank transfer: pending then completed, and failed


class Scripted(dict):
    """FakeServer routes whose answers are served in turn; the last one repeats."""

    def get(self, key, default=None):
        answers = super().get(key)
        if not answers:
            return default
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.mark.parametrize(("statuses", "last"), branches.TRANSFERS)
def test_a_transfer_is_checked_until_completed_or_failed(library, server, statuses, last):
    server.routes = Scripted({("GET", "/tr"): [Route(body={"status": s}) for s in statuses]})
    workflow = draft(library, "bank-transfer-wait-retry")
    payload = branches.merged(workflow.sample_input, "transfer", status_url=f"{server.url}/tr")
    execution = succeeded(fast_forwarded(workflow, payload, send_reads=True))  # the bank's status is read, not recorded
    check = ["check_status", "count_check", "route_status"]
    again = [*check, "still_pending", "wait_more"] * (len(statuses) - 1)
    assert path(execution) == ["initiate_transfer", "wait_an_hour", *again, *check, last]
    assert [r.path for r in server.requests] == ["/tr"] * len(statuses)
    assert execution.variables["checks"] == len(statuses)
    if last == "notify_finance":
        assert recorded_task(execution, last) == "Transfer TR-1001 needs attention"


# Order inventory fan-out: all available vs one missing


@pytest.mark.parametrize(("missing", "last"), branches.INVENTORY)
def test_inventory_is_checked_for_every_item_at_once_then_combined(library, server, missing, last):
    workflow = active(library, "order-inventory-fan-out", inventory=server.url)
    items = workflow.sample_input["line_items"]
    branches.stock(server, [item["sku"] for item in items], missing)
    execution = succeeded(execution_start(workflow=workflow, input=workflow.sample_input))
    assert path(execution) == ["check_each_item", *["check_inventory"] * 5, "combine_results", "all_available", last]
    assert sorted(r.path.split("?")[0] for r in server.requests) == [f"/api/inventory/{i['sku']}" for i in items]
    assert execution.variables["unavailable"] == sorted(missing)
    if last == "proceed_to_checkout":
        assert execution.output == {"order": "#1001", "status": "ready"}


# Overdue invoice batch: more than 10 invoices, one second apart


def test_a_batch_of_eleven_invoices_is_reminded_one_second_apart(library):
    workflow = active(library, "overdue-invoice-batch")
    invoices = [
        {"number": str(3000 + n), "customer": f"Customer {n}", "email": f"ap{n}@example.com", "amount": 100 + n}
        for n in range(11)
    ]
    execution = execution_start(workflow=workflow, input={**workflow.sample_input, "invoices": invoices})
    succeeded(execution, timeout=120)  # 11 items, each at least a second after the one before
    body = ["send_reminder", "log_action"] * 11
    assert path(execution) == ["get_overdue_invoices", "each_invoice", *body, "summary_report", "email_report"]
    starts = list(
        execution.step_runs.filter(step_key="send_reminder").order_by("id").values_list("started_at", flat=True)
    )
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 10 and min(gaps) >= 1.0, gaps
    assert execution.variables["report"].startswith("11 reminder(s) sent: 3000, 3001")
    assert step(execution, "email_report").output == {
        "sent": 1,
        "to": ["finance@example.com"],
        "subject": "Overdue invoices",
    }


# E-commerce order fulfilment: in stock vs backorder


@pytest.mark.parametrize(("in_stock", "last"), branches.STOCK)
def test_an_order_in_stock_ships_and_one_out_of_stock_is_backordered(library, server, in_stock, last):
    workflow = active(library, "ecommerce-order-fulfillment", inventory=server.url)
    branches.stock(server, ["IPOD2008GREEN"], missing=() if in_stock else ["IPOD2008GREEN"])
    execution = succeeded(execution_start(workflow=workflow, input=payloads.shopify_order()))
    if in_stock:
        then = ["create_shipping_label", "notify_warehouse", last]
        tasks = ["Pack order #1001 (label LBL-450789469)"]
    else:
        then, tasks = ["notify_backorder", last], ["Restock for order #1001"]
    assert path(execution) == ["read_order", "verify_payment", "look_up_stock", "check_inventory", *then]
    assert task_titles(execution) == tasks
    assert [r.path for r in server.requests] == ["/api/stock?skus=IPOD2008GREEN%3A1"]
    mail = "send_confirmation" if in_stock else "notify_backorder"
    assert step(execution, mail).input["to"] == "bob.norman@mail.example.com"  # Shopify's order e-mail


# Content approval: passing vs failing checks, approved vs rejected


@pytest.mark.parametrize(("similarity", "title", "decision", "last"), branches.CONTENT)
def test_content_that_passes_both_checks_waits_for_an_editor(library, similarity, title, decision, last):
    editor = member_of("Editors", "ed")
    workflow = active(library, "content-approval-pipeline")
    content = {**workflow.sample_input["content"], "similarity": similarity, "title": title}
    execution = execution_start(workflow=workflow, input={"content": content})
    if decision:
        decide(execution, editor, decision, "see notes")
    asked = ["editor_approval"] if decision else []
    assert path(succeeded(execution)) == ["plagiarism_check", "brand_check", "passes_both", *asked, last]
    if last == "publish":
        assert execution.output == {"published": title}
    else:
        review = "see notes" if decision else "not reviewed"
        assert step(execution, last).input["body"].endswith(f"editor: {review}.")


# Subscription renewal: expiring card vs not, then the charge; a charge failing three times on a live run


@pytest.mark.parametrize("card", [card for card, _, _ in branches.RENEWALS])
def test_a_renewal_asks_for_a_new_card_when_it_expires_first_then_charges(library, server, card):
    workflow = draft(library, "subscription-renewal")
    renews = timezone.now().replace(microsecond=0) + timedelta(days=7)
    subscription = {
        **workflow.sample_input["subscription"],
        "renews_at": renews.isoformat(),
        "card_expires": card,
        "charge_url": f"{server.url}/charge",
    }
    execution = succeeded(fast_forwarded(workflow, {**workflow.sample_input, "subscription": subscription}))
    update = ["request_payment_update"] if card < renews.date().isoformat() else []
    assert path(execution) == [
        "renewal_reminder",
        "wait_three_days",
        "card_expiring",
        *update,
        "until_renewal_day",
        "attempt_charge",
        "thank_customer",
    ]
    charge = step(execution, "attempt_charge").output["would_send"]
    assert (charge["method"], charge["url"], charge["json"]) == (
        "POST",
        f"{server.url}/charge",
        {"subscription": "sub_42"},
    )
    assert server.requests == []  # a test run records the charge instead of sending it


def elapse(execution: Execution, key: str) -> StepRun:
    """Wait until the run is parked on a timer of this step, then move that timer to now.

    This stands in for time passing, as time-machine moves the clock in-process: the worker's clock cannot be
    moved, so the row's wake-up time is. A wait step also re-reads the `until` it parked with when it wakes, so
    that moves too. The worker's Beat sweep then wakes the step, as it would once the time had come.
    """

    def parked():
        pending = execution.step_runs.filter(step_key=key, status=StepRun.Status.PENDING)
        return pending.filter(wake_at__gt=timezone.now() + timedelta(minutes=30)).order_by("-id").first()

    try:
        run = wait_for(parked, timeout=120, message=f"run #{execution.pk} to park on a timer of {key}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the run is {execution.status} at: {where(execution)}") from None
    now, output = timezone.now(), run.output
    if isinstance(output, dict) and "until" in output:  # a wait step: it wakes only past the time it parked until
        output = {**output, "until": now.isoformat()}
    StepRun.objects.filter(pk=run.pk, status=StepRun.Status.PENDING).update(wake_at=now, output=output)
    return run


def where(execution: Execution) -> list[tuple]:
    """Each step run of the run: key, attempt, status and wake-up time (for a timeout's message)."""
    execution.refresh_from_db()
    return list(execution.step_runs.order_by("id").values_list("step_key", "attempt", "status", "wake_at"))


def test_a_live_renewal_whose_charge_fails_is_tried_three_times_then_billing_is_told(library, server):
    server.route("POST", "/charge", status=500, body={"error": "processor unavailable"})
    workflow = active(library, "subscription-renewal")
    renews = timezone.now().replace(microsecond=0) + timedelta(days=7)
    subscription = {
        **workflow.sample_input["subscription"],
        "renews_at": renews.isoformat(),
        "card_expires": "2030-01-31",
        "charge_url": f"{server.url}/charge",
    }
    execution = execution_start(workflow=workflow, input={**workflow.sample_input, "subscription": subscription})
    delays = [elapse(execution, key).wake_at - timezone.now() for key in ("wait_three_days", "until_renewal_day")]
    assert delays[0] > timedelta(days=2, hours=23) and delays[1] > timedelta(days=6, hours=23)
    retries = [elapse(execution, "attempt_charge") for _ in range(2)]  # the 1 h, then the 2 h back-off
    assert [(r.attempt, round((r.wake_at - r.created_at).total_seconds() / 3600)) for r in retries] == [(2, 1), (3, 2)]
    assert path(succeeded(execution)) == [
        "renewal_reminder",
        "wait_three_days",
        "card_expiring",
        "until_renewal_day",
        "notify_billing",
    ]
    attempts = list(execution.step_runs.filter(step_key="attempt_charge").order_by("attempt"))
    assert [(a.attempt, a.status) for a in attempts] == [(n, StepRun.Status.FAILED) for n in (1, 2, 3)]
    charges = [received(r) for r in server.requests]
    assert [(c.method, c.path, c.body) for c in charges] == [("POST", "/charge", {"subscription": "sub_42"})] * 3
    assert task_titles(execution) == ["Renewal of sub_42 failed 3 times"]
    assert step(execution, "notify_billing").started_at >= attempts[-1].finished_at
