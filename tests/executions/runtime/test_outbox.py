"""The outbox: events and e-mails are rows of the deciding transaction, delivered once, retried with back-off."""

import contextlib
import smtplib
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.approvals import approval_decide, approval_remind_or_expire
from executions.events import _store_if_unheard
from executions.models import Approval, Event, Execution, OutboxMessage
from executions.runtime import outbox
from executions.services import execution_start
from tests.factories import UserFactory, active_workflow, log_step
from tests.vendor import postgresql_only
from workflows.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def no_hints(monkeypatch):
    """The message sent after the commit never arrives (the worker died): only explicit deliveries send."""
    hints = []
    monkeypatch.setattr(outbox, "_hint", lambda message_id, kind: hints.append(message_id))
    monkeypatch.setattr(outbox, "delivered_here", contextlib.nullcontext)  # nor does the task live to deliver it
    return hints


def broken_workflow(on_failure="notify_owner", **kwargs):
    fail = {"key": "boom", "name": "Boom", "kind": "fail", "config": {"message": "card declined"}}
    return active_workflow([fail], on_failure=on_failure, **kwargs)


def watcher_of(workflow):
    watcher = active_workflow([log_step("seen", "{{trigger.error}}")], name="Watcher")
    Trigger.objects.create(
        workflow=watcher,
        kind="event",
        config={"type": "execution.failed", "filter": f"event.data.workflow_id == {workflow.pk}"},
    )
    return watcher


def xmin(table: str, pk: int) -> int:
    """The id of the transaction that last wrote this row."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT xmin::text::bigint FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@postgresql_only("xmin names the transaction that wrote a row")
def test_a_failed_run_writes_its_event_and_owner_email_as_outbox_rows_in_the_same_transaction(locmem, no_hints):
    broken = broken_workflow(owner=UserFactory(email="owner@example.com"))
    watcher = watcher_of(broken)
    execution = execution_start(workflow=broken, input={})
    execution.refresh_from_db()
    assert execution.status == Execution.Status.FAILED

    rows = list(OutboxMessage.objects.order_by("id"))
    assert [(r.kind, r.key, r.status) for r in rows] == [
        ("owner_failure", f"execution:{execution.pk}:owner_failure", "pending"),
        ("event", f"execution:{execution.pk}:failed", "pending"),
    ]
    assert rows[1].payload["type"] == "execution.failed" and rows[1].payload["about_id"] == broken.pk
    # Written by the very transaction that marked the run failed; nothing was sent yet.
    finishing = xmin("executions_execution", execution.pk)
    assert {xmin("executions_outboxmessage", r.pk) for r in rows} == {finishing}
    assert no_hints == [r.pk for r in rows]
    assert not mail.outbox and not Event.objects.exists() and not watcher.executions.exists()

    later = timezone.now() + timedelta(seconds=5)
    assert sorted(outbox.outbox_due(now=later)) == [r.pk for r in rows]  # the sweep delivers what was lost
    [message] = mail.outbox
    assert message.to == ["owner@example.com"] and "card declined" in message.body
    assert Event.objects.filter(type="execution.failed").count() == 1
    [started] = watcher.executions.all()
    assert set(OutboxMessage.objects.filter(pk__in=[r.pk for r in rows]).values_list("status", "attempts")) == {
        ("sent", 1)
    }
    # A second pass sends none of these again; the watcher's own execution.succeeded had no listener, so its run
    # stored it at once instead of writing a row.
    assert outbox.outbox_due(now=later + timedelta(hours=1)) == []
    assert Event.objects.filter(type="execution.succeeded", data__execution_id=started.pk).count() == 1
    assert not OutboxMessage.objects.filter(key=f"execution:{started.pk}:succeeded").exists()
    assert len(mail.outbox) == 1 and Event.objects.filter(type="execution.failed").count() == 1
    assert watcher.executions.count() == 1


def test_nothing_is_sent_from_on_commit(locmem, monkeypatch):
    """on_commit only carries wake-up hints (enqueue's run message, the outbox's delivery message)."""
    registered = []
    real = transaction.on_commit

    def spy(func, using=None, robust=False):
        registered.append(func.__qualname__)
        return real(func, using=using, robust=robust)

    monkeypatch.setattr(transaction, "on_commit", spy)
    manager = UserFactory(username="mgr", email="mgr@example.com")
    Group.objects.create(name="Managers").user_set.add(manager)
    owner = UserFactory(email="owner@example.com")
    step = {"key": "ok", "name": "OK?", "kind": "approval", "config": {"title": "Refund?", "groups": ["Managers"]}}
    task = {"key": "todo", "name": "Todo", "kind": "task", "config": {"title": "Call", "assignee": "mgr"}}
    approval_workflow = active_workflow([step, log_step("paid")], owner=owner)
    listener = active_workflow([log_step("seen")], name="Listener")
    Trigger.objects.create(workflow=listener, kind="event", config={"type": "approval.decided"})
    approval_run = execution_start(workflow=approval_workflow, input={})
    approval_decide(approval_id=Approval.objects.get().pk, user=manager, decision="approve")
    execution_start(workflow=active_workflow([task], owner=owner), input={})
    failed = execution_start(workflow=broken_workflow(owner=owner), input={})

    approval_run.refresh_from_db()
    assert approval_run.status == Execution.Status.SUCCEEDED
    kinds = dict(OutboxMessage.objects.values_list("kind", "status").distinct())
    assert kinds == {"notify_approvers": "sent", "event": "sent", "notify_task": "sent", "owner_failure": "sent"}
    assert len(mail.outbox) == 3  # approval opened, task assigned, run failed
    assert {e.type for e in Event.objects.all()} >= {"approval.decided", "execution.succeeded", "execution.failed"}
    assert failed.pk
    assert registered and set(registered) <= {"enqueue.<locals>.<lambda>", "outbox_add.<locals>.<lambda>"}


def test_a_delivery_that_fails_is_retried_with_backoff_and_marked_sent_once(locmem, monkeypatch):
    sends = []
    real_send = mail.send_mail

    def flaky(*args, **kwargs):
        sends.append(args[0])
        if len(sends) == 1:
            raise smtplib.SMTPServerDisconnected("mail.example.com went away")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(mail, "send_mail", flaky)
    with transaction.atomic():
        message_id = outbox.outbox_add(
            kind=outbox.EMAIL, payload={"subject": "Hi", "body": "b", "to": ["a@example.com"]}, key="t:1"
        )
        assert sends == []  # nothing leaves before the commit
    row = OutboxMessage.objects.get(pk=message_id)  # the hint ran after the commit (eager) and failed
    assert (row.status, row.attempts, sends) == ("pending", 1, ["Hi"])
    assert row.last_error == "SMTPServerDisconnected: mail.example.com went away"
    failed_at = row.next_attempt_at - outbox.backoff(1)
    assert outbox.backoff(1) == timedelta(seconds=10) and outbox.backoff(3) == timedelta(seconds=40)

    assert outbox.outbox_deliver(message_id) is False  # backing off: a duplicate hint sends nothing
    assert outbox.outbox_due(now=failed_at + timedelta(seconds=9)) == []
    assert outbox.outbox_due(now=failed_at + timedelta(seconds=11)) == [message_id]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at is not None, row.next_attempt_at) == ("sent", 2, True, None)
    assert outbox.outbox_due(now=timezone.now() + timedelta(days=1)) == []
    assert outbox.outbox_deliver(message_id) is False
    assert sends == ["Hi", "Hi"] and len(mail.outbox) == 1

    # The same decision again writes no second row; and a row that never gets through gives up, recorded.
    with transaction.atomic():
        assert outbox.outbox_add(kind=outbox.EMAIL, payload={}, key="t:1") == message_id
    assert OutboxMessage.objects.count() == 1
    monkeypatch.setattr(mail, "send_mail", lambda *a, **k: (_ for _ in ()).throw(smtplib.SMTPException("no")))
    OutboxMessage.objects.filter(pk=message_id).update(
        status="pending", attempts=outbox.MAX_ATTEMPTS - 1, next_attempt_at=timezone.now()
    )
    assert outbox.outbox_deliver(message_id, now=timezone.now() + timedelta(seconds=1)) is False
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", outbox.MAX_ATTEMPTS, None)


@pytest.mark.parametrize(
    "kind", ["email", pytest.param("event", marks=postgresql_only("SQLite serialises writers: the second waits"))]
)
def test_two_deliveries_of_the_same_row_send_once(kind, locmem, no_hints, monkeypatch):
    inside, release, sent = threading.Event(), threading.Event(), []

    def slow_send(**payload):
        sent.append(payload)
        inside.set()
        assert release.wait(10)

    monkeypatch.setitem(outbox.SENDERS, kind, slow_send)
    with transaction.atomic():
        message_id = outbox.outbox_add(kind=kind, payload={"n": 1}, key="twice")
    results = {}

    def deliver(name):
        try:
            results[name] = outbox.outbox_deliver(message_id)
        finally:
            connections.close_all()

    first = threading.Thread(target=deliver, args=("first",))
    first.start()
    assert inside.wait(10)
    deliver_second = threading.Thread(target=deliver, args=("second",))
    deliver_second.start()
    deliver_second.join(10)  # it does not wait for the first: the row is claimed (or locked, skipped)
    assert results == {"second": False}
    release.set()
    first.join(10)
    assert results == {"first": True, "second": False}
    assert outbox.outbox_deliver(message_id) is False
    assert outbox.outbox_due(now=timezone.now() + timedelta(hours=1)) == []
    assert sent == [{"n": 1}]
    assert OutboxMessage.objects.get(pk=message_id).status == "sent"


def test_an_event_about_a_deleted_workflow_reaches_nobody(no_hints):
    broken = broken_workflow(on_failure="nothing")
    watcher_of(broken)  # someone listens, so the event is a row to deliver
    execution_start(workflow=broken, input={})
    row = OutboxMessage.objects.get()
    # The queued event keeps only the workflow's id; gone by delivery, its audience is nobody (never everybody).
    OutboxMessage.objects.filter(pk=row.pk).update(payload={**row.payload, "about_id": broken.pk + 1000})
    assert len(outbox.outbox_due(now=timezone.now() + timedelta(seconds=5))) == 1
    assert not Event.objects.exists()


def test_approval_reminders_are_one_row_each(locmem, no_hints):
    manager = UserFactory(username="mgr", email="mgr@example.com")
    Group.objects.create(name="Managers").user_set.add(manager)
    config = {"title": "Refund?", "groups": ["Managers"], "remind_every": "1h"}
    execution_start(
        workflow=active_workflow([{"key": "ok", "name": "OK?", "kind": "approval", "config": config}]), input={}
    )
    approval = Approval.objects.get()
    for _ in range(2):
        Approval.objects.filter(pk=approval.pk).update(next_reminder_at=timezone.now())
        approval_remind_or_expire(approval_id=approval.pk)
    keys = list(OutboxMessage.objects.values_list("key", flat=True))
    assert keys == [
        f"approval:{approval.pk}:opened",
        f"approval:{approval.pk}:reminder:1",
        f"approval:{approval.pk}:reminder:2",
    ]
    outbox.outbox_due(now=timezone.now() + timedelta(seconds=5))
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[FAOS] Approval needed"] + ["[FAOS] Reminder"] * 2


def test_deliveries_go_to_the_sweep_queue_that_default_workers_consume():
    from faos.celery import app

    assert app.amqp.router.route({}, "executions.tasks.deliver_outbox")["queue"].name == "sweep"


def test_a_runs_event_is_delivered_by_the_task_that_finished_it_without_another_message(monkeypatch):
    hints = []
    monkeypatch.setattr(outbox, "_hint", lambda message_id, kind: hints.append((message_id, kind)))
    broken = broken_workflow(on_failure="nothing")
    watcher = watcher_of(broken)
    execution = execution_start(workflow=broken, input={})  # eager: the task runs here
    row = OutboxMessage.objects.get(key=f"execution:{execution.pk}:failed")
    assert row.status == "sent" and hints == []  # no deliver_outbox message: the run's own task delivered it
    assert Event.objects.filter(type="execution.failed").count() == 1 and watcher.executions.count() == 1


@postgresql_only("xmin names the transaction that wrote a row")
def test_an_event_nobody_listens_to_is_stored_by_the_deciding_transaction_without_an_outbox_row():
    execution = execution_start(workflow=broken_workflow(on_failure="nothing"), input={})
    [event] = Event.objects.filter(type="execution.failed")
    assert event.data["execution_id"] == execution.pk and event.about_id == execution.workflow_id
    assert xmin("executions_event", event.pk) == xmin("executions_execution", execution.pk)  # one transaction
    assert not OutboxMessage.objects.filter(kind="event").exists()


def test_an_unheard_event_is_one_statement_and_a_heard_one_is_left_to_the_outbox():
    event = {"type": "invoice.overdue", "data": {"invoice": "in_1"}, "source": "test", "about_id": None}
    with CaptureQueriesContext(connection) as queries:
        assert _store_if_unheard(**event) is True
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT INTO executions_event")
    stored = Event.objects.get(type="invoice.overdue")
    assert (stored.data, stored.source, stored.resumed, stored.created_at is not None) == (
        {"invoice": "in_1"},
        "test",
        0,
        True,
    )
    wait = {"key": "await", "name": "Await", "kind": "wait_for_event", "config": {"event": "invoice.overdue"}}
    execution_start(workflow=active_workflow([wait, log_step("after")], name="Waiter"), input={})
    assert _store_if_unheard(**event) is False  # a step waits for it: not stored here, the outbox delivers it
    watched = active_workflow([log_step("on_paid")], name="Watcher")
    Trigger.objects.create(workflow=watched, kind="event", config={"type": "invoice.paid"})
    assert _store_if_unheard(**{**event, "type": "invoice.paid"}) is False  # a trigger starts on it
    assert Event.objects.count() == 1


def test_a_step_waiting_for_the_event_makes_it_a_row_and_is_woken_by_its_delivery():
    wait = {"key": "await_failure", "name": "Await", "kind": "wait_for_event", "config": {"event": "execution.failed"}}
    waiter = execution_start(workflow=active_workflow([wait, log_step("after")], name="Waiter"), input={})
    assert Execution.objects.get(pk=waiter.pk).status == "waiting"
    execution = execution_start(workflow=broken_workflow(on_failure="nothing"), input={})
    row = OutboxMessage.objects.get(key=f"execution:{execution.pk}:failed")
    assert row.status == "sent" and Execution.objects.get(pk=waiter.pk).status == "succeeded"
