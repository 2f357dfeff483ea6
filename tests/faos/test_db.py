"""Rows read by written-out SQL become the same model instances the ORM builds (on PostgreSQL and SQLite)."""

import pytest
from django.db import connection

from faos.db import columns, models_from_row
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
