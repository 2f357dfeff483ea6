"""Step-run rows written as one JSON parameter (PostgreSQL): the same values as the ORM writes, under the same rules."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from executions.models import Execution, StepRun
from executions.runtime import inline, rows
from executions.services import execution_start
from tests.factories import active_workflow, log_step
from tests.vendor import postgresql_only

pytestmark = [pytest.mark.django_db, postgresql_only("rows.py is PostgreSQL's path; SQLite writes through the ORM")]

AT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
COMPARED = [f.attname for f in StepRun._meta.concrete_fields if f.attname not in ("id", "step_key", "created_at")]


@pytest.fixture
def execution():
    return execution_start(workflow=active_workflow([log_step("a")]), input={})


def _run(execution, key: str, **extra) -> StepRun:
    """A finished attempt with a value of every kind a column holds: JSON (nested, null), text, decimal, times."""
    fields = dict(
        execution_id=execution.pk,
        step_key=key,
        step_name="Ünïcode «name»",
        step_kind="action",
        status=StepRun.Status.SUCCEEDED,
        input={"n": 1, "nested": [1, None, "é", {"deep": 2.5}], "quote": 'it\'s "x"'},
        output=None,
        error_detail={"ok": True},
        retryable=False,
        cost_usd=Decimal("0.123456"),
        tokens_in=7,
        started_at=AT,
        finished_at=AT,
        duration_ms=5,
        claims=1,
        worker="w1",
    )
    return StepRun(**{**fields, **extra})


def _sql_nulls(pk: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT output IS NULL, requests IS NULL FROM executions_steprun WHERE id = %s", [pk])
        return cursor.fetchone()


def test_rows_inserted_as_one_json_parameter_read_back_exactly_as_bulk_create_writes_them(execution):
    by_orm, by_json = [_run(execution, "orm")], [_run(execution, "j1"), _run(execution, "j2", visit=3, branch="b")]
    StepRun.objects.bulk_create(by_orm)
    assert rows.insert(by_json) is True
    orm = StepRun.objects.get(pk=by_orm[0].pk)
    for sent in by_json:
        stored = StepRun.objects.get(pk=sent.pk)  # the ids came back to the right rows
        assert stored.step_key == sent.step_key and stored.created_at is not None
        expected = {name: getattr(orm, name) for name in COMPARED} | {"visit": sent.visit, "branch": sent.branch}
        assert {name: getattr(stored, name) for name in COMPARED} == expected
        assert _sql_nulls(stored.pk) == _sql_nulls(orm.pk) == (True, True)  # None is SQL NULL, not JSON null


def test_a_taken_visit_writes_none_of_the_rows_and_the_chain_falls_back_to_the_databases_count(execution):
    StepRun.objects.create(execution=execution, step_key="b", step_kind="action", status="succeeded", visit=1)
    before = StepRun.objects.count()
    assert rows.insert([_run(execution, "x"), _run(execution, "b")]) is False
    assert StepRun.objects.count() == before  # the row that could go in was taken out again
    chain = [SimpleNamespace(run=_run(execution, "x")), SimpleNamespace(run=_run(execution, "b"))]
    last = inline.chain_record(execution, chain, None)
    assert (last.step_key, last.visit) == ("b", 2)
    assert StepRun.objects.filter(execution=execution, step_key="x", visit=1).exists()


def test_an_outcome_is_written_only_by_the_lease_holder_and_as_the_orms_update_writes_it(execution):
    held = execution.step_runs.get()
    StepRun.objects.filter(pk=held.pk).update(status="running", lease_owner="w1", lease_expires_at=AT)
    other = _run(execution, "other", status="running", lease_owner="w1", lease_expires_at=AT + timedelta(minutes=5))
    other.save()
    outcome = {"status": "succeeded", "output": {"n": [1, None]}, "error": "", "requests": None, "duration_ms": 3,
               "finished_at": timezone.now(), "lease_owner": "", "lease_expires_at": None}  # fmt: skip
    assert rows.update_leased(held.pk, "w2", outcome) is False  # not the holder: nothing written
    assert StepRun.objects.get(pk=held.pk).status == "running"
    assert rows.update_leased(held.pk, "w1", outcome) is True
    StepRun.objects.filter(pk=other.pk).update(**outcome)
    for pk in (held.pk, other.pk):
        stored = StepRun.objects.values(*outcome).get(pk=pk)
        assert stored == outcome
    assert rows.update_leased(held.pk, "w1", outcome) is False  # no longer running: a second write is refused


def test_a_run_and_its_first_step_inserted_together_read_back_as_two_orm_creates_write_them(no_tasks):
    workflow = active_workflow([log_step("a"), log_step("b")])
    fields = {
        "input": {"customer": {"id": 7, "tags": ["é", None]}},
        "trigger_kind": "webhook",
        "trigger_source": "hook",
        "trigger_meta": {"headers": {"x-request-id": "r1"}},
        "idempotency_key": "webhook:k1",
    }
    execution = execution_start(workflow=workflow, **{k: v for k, v in fields.items() if k != "trigger_source"},
                                source="hook")  # fmt: skip
    orm = Execution.objects.create(workflow=workflow, version=execution.version, deadline_at=execution.deadline_at,
                                   **{**fields, "idempotency_key": "webhook:k2"})  # fmt: skip
    orm_step = StepRun.objects.create(execution=orm, step_key="a", step_name="A", step_kind="action",
                                      enqueued_at=execution.step_runs.get().enqueued_at)  # fmt: skip
    skip = ("id", "idempotency_key", "created_at")
    stored, expected = Execution.objects.get(pk=execution.pk), Execution.objects.get(pk=orm.pk)
    assert {f: v for f, v in _values(stored).items() if f not in skip} == {
        f: v for f, v in _values(expected).items() if f not in skip
    }
    step, expected_step = execution.step_runs.get(), StepRun.objects.get(pk=orm_step.pk)
    skip_step = ("id", "execution_id", "created_at")
    assert {f: v for f, v in _values(step).items() if f not in skip_step} == {
        f: v for f, v in _values(expected_step).items() if f not in skip_step
    }
    assert execution.pk == stored.pk and step.execution_id == execution.pk and stored.created_at is not None


def test_a_repeated_delivery_key_starts_no_second_run_and_writes_no_second_step(no_tasks):
    workflow = active_workflow([log_step("a")])
    first = execution_start(workflow=workflow, input={}, idempotency_key="webhook:same")
    again = execution_start(workflow=workflow, input={}, idempotency_key="webhook:same")
    assert again.pk == first.pk and Execution.objects.count() == 1 and StepRun.objects.count() == 1


def _values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}
