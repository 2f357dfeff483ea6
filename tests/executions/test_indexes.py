"""The run tables' indexes are lean (issue 14): a finished step run and a plain run are written to as few indexes as
the queries that find them need, and those queries still find them through an index (PostgreSQL's plans)."""

import pytest
from django.db import connection, transaction

from executions.models import Execution, StepRun
from tests.vendor import postgresql_only

pytestmark = [pytest.mark.django_db, postgresql_only("the plans are PostgreSQL's planner's")]


def indexes_of(model) -> dict[str, str]:
    """Index name → its definition, as the database has them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [model._meta.db_table])
        return dict(cursor.fetchall())


def plan(queryset) -> str:
    """The plan PostgreSQL chooses when a table scan is its last resort (the test tables are tiny)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_a_finished_step_run_is_written_to_no_lease_and_no_waiting_index():
    definitions = indexes_of(StepRun)
    assert "WHERE ((status)::text = 'running'::text)" in definitions["steprun_leases"]
    assert "WHERE ((status)::text = 'pending'::text)" in definitions["steprun_waiting"]
    # The run's own column leads two indexes already: no third one of it alone.
    assert not [d for d in definitions.values() if d.endswith("(execution_id)")]


def test_a_run_without_a_starter_a_retry_or_a_parent_is_in_none_of_their_indexes():
    definitions = indexes_of(Execution)
    for name, column in [
        ("execution_started_by", "started_by_id"),
        ("execution_retry_of", "retry_of_id"),
        ("execution_parent_step", "parent_step_run_id"),
    ]:
        assert definitions[name].endswith(f"WHERE ({column} IS NOT NULL)")
    assert not [d for d in definitions.values() if d.endswith("(workflow_id)")]  # execution_wf_status_created leads


def test_the_sweep_and_the_event_listeners_find_their_rows_through_the_partial_indexes():
    assert "steprun_leases" in plan(StepRun.objects.lease_expired().select_for_update(skip_locked=True))
    assert "steprun_waiting" in plan(StepRun.objects.filter(waiting_for="invoice.paid", status="pending"))
    assert "execution_retry_of" in plan(Execution.objects.filter(retry_of_id=1))
    assert "execution_wf_status_created" in plan(Execution.objects.filter(workflow_id=1))
    assert "steprun_execution_order" in plan(StepRun.objects.filter(execution_id=1))
