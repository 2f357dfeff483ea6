"""Trigger config schemas (one per kind), the admin form that checks a trigger's config against them, and the
schedule preview endpoint the trigger editor asks for the next runs."""

import json
from datetime import datetime, timedelta

import jsonschema
import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import TriggerFactory, UserFactory, WorkflowFactory
from workflows.admin.forms import TriggerInlineForm
from workflows.config_checks import schema_errors, trigger_problems
from workflows.library import template_files
from workflows.models import Trigger
from workflows.triggers import AUTH_SCHEMES, COMMON_TIME_ZONES, config_schema

pytestmark = pytest.mark.django_db
PREVIEW = "admin:workflows_workflow_trigger_preview"
# one config per kind with a value of the wrong shape, and the field the error must name
WRONG = {
    "manual": ({"cron": "0 9 * * *"}, "config.cron: is not a setting here (this kind has no settings)"),
    "webhook": ({"auth": "basic"}, "config.auth: must be one of " + ", ".join(AUTH_SCHEMES)),
    "schedule": ({"cron": 900, "timezone": "UTC"}, "config.cron: must be text"),
    "event": ({"type": ["invoice.overdue"]}, "config.type: must be text"),
}


def library_triggers():
    from workflows.io import parse

    for path in template_files():
        for index, trigger in enumerate(parse(path.read_text()).get("triggers") or []):
            yield pytest.param(trigger, id=f"{path.stem}.{index}.{trigger.get('kind', 'manual')}")


def form_errors(kind: str, config) -> list[str]:
    """The config errors the admin's trigger form shows for this kind and config."""
    data = {
        "workflow": WorkflowFactory().pk,
        "kind": kind,
        "name": "T",
        "config": json.dumps(config),
        "is_enabled": "on",
    }
    form = TriggerInlineForm(data)
    assert not form.is_valid()
    return form.errors["config"]


def test_every_kind_has_a_valid_schema_with_titles_and_help():
    for kind in Trigger.Kind.values:
        schema = config_schema(kind)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["additionalProperties"] is False and schema["description"]
        for name, spec in schema["properties"].items():
            assert spec.get("title") and spec.get("description"), f"{kind}.{name} needs a title and help text"
    assert config_schema("webhook")["properties"]["auth"]["enum"] == list(AUTH_SCHEMES)


@pytest.mark.parametrize("trigger", library_triggers())
def test_every_library_trigger_fits_its_kinds_schema(trigger):
    kind, config = trigger.get("kind", "manual"), trigger.get("config") or {}
    assert schema_errors(config_schema(kind), config, "config") == []
    assert trigger_problems(kind, config) == {}


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_a_config_of_the_wrong_shape_is_refused_naming_the_field(kind):
    config, message = WRONG[kind]
    assert form_errors(kind, config) == [message]


def test_the_schema_checks_the_shape_and_trigger_config_errors_the_meaning():
    assert form_errors("schedule", {"cron": "99 * * * *"})[0].startswith("config.cron: '99 * * * *' is not a valid")
    assert form_errors("schedule", {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}) == [
        "config.timezone: unknown time zone 'Mars/Olympus'"
    ]
    assert form_errors("schedule", {"cron": "0 9 * * *", "timezone": 1}) == ["config.timezone: must be text"]
    assert form_errors("schedule", {"crn": "0 9 * * *"})[0].startswith("config.crn: is not a setting here (known: cron")
    assert form_errors("event", {"type": ""}) == ["config.type: name the event type, e.g. execution.failed"]
    assert form_errors("webhook", {"auth": "token", "rate_per_minute": 0}) == [
        "config.rate_per_minute: must be at least 1"
    ]
    assert form_errors("schedule", []) == ["config: must be an object"]


def test_any_iana_time_zone_is_accepted_not_only_the_suggested_ones():
    zone = "America/Argentina/Buenos_Aires"
    assert zone not in COMMON_TIME_ZONES and "Europe/Berlin" in COMMON_TIME_ZONES
    assert trigger_problems("schedule", {"cron": "0 9 * * 1-5", "timezone": zone}) == {}


def test_the_page_carries_each_kinds_schema_and_the_preview_url(client, admin_user):
    trigger = TriggerFactory(kind="webhook", config={"auth": "hmac_sha256"})
    client.force_login(admin_user)
    page = client.get(reverse("admin:workflows_workflow_change", args=[trigger.workflow_id])).content.decode()
    assert "faos/schema_form.js" in page and "faos/trigger_editor.js" in page and "faos/step_editor.js" in page
    assert 'class="faos-trigger-config" data-faos-trigger="' in page and "textarea" in page
    assert "x-enum-labels" in page and reverse(PREVIEW) in page


def preview(client, config) -> dict:
    response = client.get(reverse(PREVIEW), {"config": config if isinstance(config, str) else json.dumps(config)})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_preview_lists_the_next_five_runs_in_the_schedules_time_zone(client, admin_user):
    client.force_login(admin_user)
    runs = preview(client, {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"})["runs"]
    assert len(runs) == 5
    moments = [datetime.fromisoformat(run["at"]) for run in runs]
    assert all((m.hour, m.minute) == (9, 0) and m.weekday() < 5 for m in moments) and moments == sorted(moments)
    assert all(run["label"].endswith(("CET", "CEST")) for run in runs)


def test_the_preview_keeps_within_start_and_end(client, admin_user):
    client.force_login(admin_user)
    start = (datetime.now().astimezone() + timedelta(days=30)).replace(microsecond=0)
    end = start + timedelta(minutes=3, seconds=30)
    answer = preview(client, {"every_seconds": 60, "start": start.isoformat(), "end": end.isoformat()})
    assert len(answer["runs"]) == 3 and answer["ended"] is True
    assert all(start < datetime.fromisoformat(run["at"]) <= end for run in answer["runs"])


def test_the_preview_answers_the_field_error(client, admin_user):
    client.force_login(admin_user)
    bad_cron = preview(client, {"cron": "0 25 * * *"})["errors"]
    assert list(bad_cron) == ["config.cron"] and "not a valid cron" in bad_cron["config.cron"]
    assert preview(client, {"cron": "0 9 * * *", "every_seconds": "60"})["errors"] == {
        "config.every_seconds": "must be a whole number"
    }
    assert "config.cron" in preview(client, {})["errors"]
    assert preview(client, "{not json")["errors"] == {"config": "is not valid JSON"}


def test_a_viewer_cannot_ask_for_the_preview(client):
    from workflows.groups import ensure_default_groups

    ensure_default_groups()
    viewer = UserFactory(username="vic", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewers"))
    client.force_login(viewer)
    assert client.get(reverse(PREVIEW), {"config": json.dumps({"cron": "0 9 * * *"})}).status_code == 403
    client.logout()
    assert client.get(reverse(PREVIEW)).status_code == 302  # to the login page
