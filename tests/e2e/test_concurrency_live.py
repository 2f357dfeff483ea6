"""Concurrency per key on a real worker: 50 deliveries for 5 customers with a limit of 1 per customer never
overlap for one customer, and each customer's runs finish in the order they arrived."""

import pytest

from executions.models import Execution
from executions.services import execution_start
from tests.e2e.conftest import wait_for
from tests.factories import active_workflow, log_step
from workflows.models import Workflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CUSTOMERS, DELIVERIES = 5, 50


def per_customer_workflow():
    pause = {"key": "work", "name": "Work", "kind": "wait", "config": {"seconds": 0.3}}  # room to overlap
    begin = log_step("begin", "{{trigger.customer.id}} #{{trigger.n}}")
    workflow = active_workflow([begin, pause, log_step("wrap_up")])
    Workflow.objects.filter(pk=workflow.pk).update(concurrency_limit=1, concurrency_key="{{trigger.customer.id}}")
    workflow.refresh_from_db()
    return workflow


def test_fifty_deliveries_for_five_customers_never_overlap_per_customer_and_finish_in_arrival_order(start_worker):
    workflow = per_customer_workflow()
    start_worker()
    runs = [
        execution_start(
            workflow=workflow, input={"customer": {"id": f"c{n % CUSTOMERS}"}, "n": n}, trigger_kind="webhook"
        )
        for n in range(DELIVERIES)
    ]
    wait_for(
        lambda: not Execution.objects.filter(pk__in=[r.pk for r in runs]).exclude(status="succeeded").exists(),
        timeout=90,
        message="every delivery's run to succeed",
    )
    finished = Execution.objects.filter(pk__in=[r.pk for r in runs]).order_by("id")
    for customer in range(CUSTOMERS):
        mine = [run for run in finished if run.concurrency_key == f"c{customer}"]
        assert len(mine) == DELIVERIES // CUSTOMERS
        for earlier, later in zip(mine, mine[1:], strict=False):
            assert earlier.finished_at <= later.started_at, f"runs #{earlier.pk} and #{later.pk} overlapped"
        assert [run.pk for run in sorted(mine, key=lambda run: run.finished_at)] == [run.pk for run in mine]
    # Different customers did run side by side: the limit is per customer, not for the whole workflow.
    starts = sorted(finished, key=lambda run: run.started_at)
    assert any(a.finished_at > b.started_at for a, b in zip(starts, starts[1:], strict=False))
