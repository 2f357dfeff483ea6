"""Rows read by written-out SQL become the same model instances the ORM builds (on PostgreSQL and SQLite), and the
hot statements are prepared once per connection (PostgreSQL)."""

import pytest
from django.db import NotSupportedError, connection
from django.test import override_settings

from faos.db import columns, models_from_row, prepared_cursor
from tests.factories import TriggerFactory, active_workflow, log_step
from workflows.models import Trigger, Workflow, WorkflowVersion
from workflows.querysets import webhook_trigger

pytestmark = pytest.mark.django_db


def _values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def _hook(**extra) -> Trigger:
    workflow = active_workflow([log_step("a")])
    return TriggerFactory(workflow=workflow, kind="webhook", secrets=["whsec_one", "whsec_two"], **extra)


def test_models_from_a_row_hold_the_values_the_orm_reads_json_dates_booleans_and_decrypted_secrets():
    trigger = _hook(config={"auth": "hmac_sha256", "filter": "{{x}} > 1"}, is_enabled=False)
    sql = f"SELECT {columns('t', Trigger)}, {columns('w', Workflow)} FROM workflows_trigger t"
    sql += " JOIN workflows_workflow w ON w.id = t.workflow_id WHERE t.id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [trigger.pk])
        built, workflow = models_from_row(cursor.fetchone(), (Trigger, Workflow))
    assert _values(built) == _values(Trigger.objects.get(pk=trigger.pk))
    assert _values(workflow) == _values(Workflow.objects.get(pk=trigger.workflow_id))
    assert built.secrets == ["whsec_one", "whsec_two"] and built.is_enabled is False
    assert not built._state.adding and built._state.db == "default"


def test_the_webhook_read_finds_the_trigger_its_workflow_and_active_version_as_select_related_does():
    trigger = _hook()
    found = webhook_trigger(trigger.token)
    orm = Trigger.objects.select_related("workflow__active_version").get(pk=trigger.pk)
    assert _values(found) == _values(orm) and _values(found.workflow) == _values(orm.workflow)
    assert _values(found.workflow.active_version) == _values(orm.workflow.active_version)
    assert isinstance(found.workflow.active_version, WorkflowVersion)


def test_the_webhook_read_finds_nothing_for_another_kind_or_token_and_no_version_for_an_inactive_workflow():
    trigger = _hook()
    manual = TriggerFactory(workflow=trigger.workflow, kind="manual")
    assert webhook_trigger("no-such-token") is None
    assert manual.token is None or webhook_trigger(manual.token) is None
    Workflow.objects.filter(pk=trigger.workflow_id).update(active_version=None, status="draft")
    found = webhook_trigger(trigger.token)
    assert found.workflow.status == "draft" and found.workflow.active_version is None


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return cursor.fetchone()[0]


def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (SQLite keeps Django's cursor)")


def test_a_prepared_cursor_prepares_its_statement_once_per_connection_and_runs_it_again_by_name():
    _postgresql_only()
    for number in (1, 2, 3):
        with prepared_cursor() as cursor:
            cursor.execute("SELECT %s::int + 41 AS faos_prepared_probe", [number])
            assert cursor.fetchone() == (number + 41,)
    assert _prepared("faos_prepared_probe") == 1


@override_settings(FAOS_DB_PREPARED=False)
def test_with_prepared_statements_off_the_cursor_binds_client_side_and_prepares_nothing():
    _postgresql_only()
    with prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int AS faos_unprepared_probe", [7])
        assert cursor.fetchone() == (7,)
    assert _prepared("faos_unprepared_probe") == 0


@pytest.mark.django_db(transaction=True)
def test_a_column_type_changed_under_a_prepared_statement_fails_it_once_then_it_is_prepared_again():
    """A migration during a deploy: the running process's statement fails once, not at every run after."""
    _postgresql_only()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE faos_probe (x varchar(5))")
        cursor.execute("INSERT INTO faos_probe VALUES ('ab')")
    try:
        read = "SELECT x FROM faos_probe"
        with prepared_cursor() as cursor:
            cursor.execute(read)
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE faos_probe ALTER COLUMN x TYPE varchar(10)")
        changed = pytest.raises(NotSupportedError, match="cached plan must not change result type")
        with changed, prepared_cursor() as cursor:
            cursor.execute(read)
        with prepared_cursor() as cursor:
            cursor.execute(read)
            assert cursor.fetchall() == [("ab",)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE faos_probe")
