"""The workflow page renders saved steps folded (title bar and hidden inputs) and fetches a step's form when it opens;
a folded step saves as it is, moves, deletes, and a validation error on it opens it. The page's cost stays flat."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import log_step, workflow_with_steps
from workflows.models import Step

pytestmark = pytest.mark.django_db

TUNED = {"timeout_seconds": 30, "on_error": "retry", "retry_max_attempts": 5, "retry_jitter": False}
STEPS = [
    log_step("greet", "Hi {{trigger.name}}", **TUNED),
    {"key": "vip", "name": "Is VIP", "kind": "condition", "config": {"expression": "trigger.vip"}},
    log_step("done", branches={}, next_step="greet"),
]


@pytest.fixture
def client_in(client, admin_user):
    client.force_login(admin_user)
    return client


def change_url(workflow, query: str = "") -> str:
    return reverse("admin:workflows_workflow_change", args=[workflow.pk]) + query


def management(total: int, initial: int, prefix: str = "steps") -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }


def folded_post(workflow, **rows) -> dict:
    """What the page posts with every step folded (no step form opened), plus `rows` (name → value) on top."""
    data = {"name": workflow.name, "timeout_seconds": 300, "on_failure": "nothing", "sample_input": "{}"}
    data |= {"concurrency_overflow": "queue", "_continue": "1"}
    steps = list(workflow.steps.order_by("position", "id"))
    data |= management(len(steps), len(steps)) | management(0, 0, "triggers") | management(0, 0, "versions")
    for i, step in enumerate(steps):
        data |= {f"steps-{i}-id": step.pk, f"steps-{i}-workflow": workflow.pk, f"steps-{i}-position": step.position}
        data[f"steps-{i}-folded"] = "1"
    return data | rows


def saved(step: Step) -> dict:
    return {f.name: getattr(step, f.name) for f in Step._meta.fields}


def test_saved_steps_render_folded_without_their_forms(client_in):
    workflow = workflow_with_steps(STEPS)
    page = client_in.get(change_url(workflow)).content.decode()
    assert page.count('class="inline-related has_original faos-lazy"') == 3
    assert 'name="steps-0-key"' not in page and 'name="steps-0-folded" value="1"' in page
    assert 'data-step-key="vip" data-kind-label="Condition"' in page
    assert "action: log · on error: retry, then stop" in page  # the summary read with JS off
    assert 'name="steps-__prefix__-key"' in page, "the empty form for Add another is whole"
    assert f'data-step-forms="/admin/workflows/workflow/{workflow.pk}/step-forms/"' in page
    opened = client_in.get(change_url(workflow, "?steps=open")).content.decode()  # what the summary links to
    assert "faos-lazy" not in opened and 'name="steps-2-key"' in opened


def empty_form(page: str) -> str:
    """The empty step's fields on a workflow page: what Add another copies."""
    return page[page.index('id="steps-empty"') : page.index('id="id_steps-__prefix__-workflow"')]


def test_the_empty_step_form_is_written_once_and_the_same_every_time(client_in, monkeypatch):
    from workflows.templatetags import faos_steps

    monkeypatch.setattr(faos_steps, "_EMPTY_FORMS", {})
    three, five = workflow_with_steps(STEPS), workflow_with_steps([log_step(f"s{i}") for i in range(5)])
    first = client_in.get(change_url(three)).content.decode()
    assert len(faos_steps._EMPTY_FORMS) == 1
    again = client_in.get(change_url(three)).content.decode()
    assert empty_form(first) == empty_form(again) and 'id="steps-3-1-heading"' in empty_form(again)
    assert "faos-step-editor-data" not in empty_form(again) and again.count('id="faos-step-editor-data"') == 1
    assert 'id="steps-5-1-heading"' in empty_form(client_in.get(change_url(five)).content.decode())  # its own ids


def test_an_opened_step_gets_the_form_the_page_would_have_rendered(client_in):
    workflow = workflow_with_steps(STEPS)
    greet, vip, done = workflow.steps.order_by("position")
    url = reverse("admin:workflows_workflow_stepforms", args=[workflow.pk])
    forms = client_in.get(url, {"rows": f"1.{vip.pk},2.{done.pk}"}).json()["forms"]
    assert set(forms) == {"1", "2"}
    assert 'name="steps-1-key" value="vip"' in forms["1"] and 'name="steps-2-next_step" value="greet"' in forms["2"]
    assert "trigger.vip" in forms["1"] and 'id="faos-step-editor-data"' not in forms["1"]
    assert 'name="steps-1-id"' not in forms["1"], "the row keeps its own hidden id"
    moved = client_in.get(url, {"rows": f"0.{vip.pk}"})  # steps added or reordered since the page loaded
    assert moved.status_code == 409 and "reload the page" in moved.json()["error"]
    assert client_in.get(url, {"rows": "9.1,x"}).status_code == 409


def test_folded_steps_save_unchanged_beside_an_edited_one(client_in):
    workflow = workflow_with_steps(STEPS)
    before = {s.key: saved(s) for s in workflow.steps.all()}
    vip = workflow.steps.get(key="vip")
    opened = {"steps-1-folded": "", "steps-1-key": "vip", "steps-1-name": "Is a VIP", "steps-1-kind": "condition"}
    opened |= {"steps-1-config": '{"expression": "trigger.plan == \\"vip\\""}', "steps-1-branches": "{}"}
    opened |= {"steps-1-on_error": "stop", "steps-1-retry_max_attempts": 3, "steps-1-retry_initial_delay": 1}
    opened |= {"steps-1-retry_multiplier": 2, "steps-1-retry_max_delay": 300, "steps-1-position": vip.position}
    response = client_in.post(change_url(workflow), folded_post(workflow, **opened))
    assert response.status_code == 302, response.content.decode()[:2000]
    after = {s.key: saved(s) for s in workflow.steps.all()}
    assert after["greet"] == before["greet"] and after["done"] == before["done"]
    assert after["vip"]["name"] == "Is a VIP" and after["vip"]["config"] == {"expression": 'trigger.plan == "vip"'}


def test_a_folded_step_moves_and_deletes_without_its_form(client_in):
    workflow = workflow_with_steps(STEPS)
    before = saved(workflow.steps.get(key="done"))
    data = folded_post(workflow, **{"steps-0-position": 2, "steps-2-position": 0, "steps-1-DELETE": "on"})
    assert client_in.post(change_url(workflow), data).status_code == 302
    assert [s.key for s in workflow.steps.order_by("position")] == ["done", "greet"]
    canonical = {"action": "log", "input": {"message": "hi"}}  # a step that saves is written in today's spelling
    assert saved(workflow.steps.get(key="done")) == before | {"position": 0, "config": canonical}
    assert workflow.steps.get(key="greet").retry_max_attempts == 5  # the rest of a moved step is as saved


def test_an_error_on_a_folded_step_opens_it_and_leaves_the_others_folded(client_in):
    workflow = workflow_with_steps(STEPS)
    Step.objects.filter(key="vip").update(config={"expression": ""})  # saved before the kind's schema said no
    page = client_in.post(change_url(workflow), folded_post(workflow)).content.decode()
    row = re.search(r'<div class="inline-related has_original" id="steps-1">.*?name="steps-1-workflow"', page, re.S)
    assert row, "the failing step renders whole"
    assert "errorlist" in row.group(0) and 'name="steps-1-key" value="vip"' in row.group(0)
    assert 'id="steps-0" data-step=' in page and 'id="steps-2" data-step=' in page  # still folded
    assert 'name="steps-0-folded" value="1"' in page and 'name="steps-1-folded"' not in page
    assert workflow.steps.get(key="greet").retry_max_attempts == 5


def test_a_key_taken_by_a_folded_step_is_refused(client_in):
    workflow = workflow_with_steps(STEPS)
    new = {"steps-3-key": "greet", "steps-3-name": "Again", "steps-3-kind": "action", "steps-3-position": 3}
    new |= {"steps-3-config": '{"action": "log", "input": {"message": "x"}}', "steps-3-branches": "{}"}
    new |= {"steps-3-on_error": "stop", "steps-3-retry_max_attempts": 3, "steps-3-retry_initial_delay": 1}
    new |= {"steps-3-retry_multiplier": 2, "steps-3-retry_max_delay": 300, "steps-3-workflow": workflow.pk}
    data = folded_post(workflow, **new) | management(4, 3)
    response = client_in.post(change_url(workflow), data)
    assert response.status_code == 200 and "Please correct the duplicate" in response.content.decode()
    assert workflow.steps.count() == 3


def page_cost(client, workflow) -> tuple[int, int]:
    client.get(change_url(workflow))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(change_url(workflow))
    return len(captured), len(response.content)


def test_the_workflow_page_costs_the_same_queries_and_little_more_bytes_with_100_steps(client_in):
    small = workflow_with_steps([log_step(f"s{i}") for i in range(5)], name="Five")
    large = workflow_with_steps([log_step(f"s{i}") for i in range(100)], name="Hundred")
    (small_queries, small_bytes), (large_queries, large_bytes) = (
        page_cost(client_in, small),
        page_cost(client_in, large),
    )
    assert small_queries == large_queries
    per_step = (large_bytes - small_bytes) / 95
    assert per_step < 1_500, f"{per_step:.0f} bytes per folded step"  # a whole step form is ~14,000


def test_the_workflow_page_lists_the_latest_20_versions(client_in):
    from workflows.models import WorkflowVersion

    workflow = workflow_with_steps(STEPS)
    WorkflowVersion.objects.bulk_create(
        WorkflowVersion(workflow=workflow, number=n, definition={}, checksum=f"c{n}") for n in range(1, 26)
    )
    response = client_in.get(change_url(workflow))
    shown = [v.number for v in response.context["inline_admin_formsets"][2].formset.get_queryset()]
    assert shown == list(range(25, 5, -1)) and "Versions (the latest 20)" in response.content.decode()
    data = folded_post(workflow) | management(20, 20, "versions")  # the page posts the 20 rows it showed
    for i, version in enumerate(WorkflowVersion.objects.filter(workflow=workflow).order_by("-number")[:20]):
        data |= {f"versions-{i}-id": version.pk, f"versions-{i}-workflow": workflow.pk}
    response = client_in.post(change_url(workflow), data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_a_viewer_opens_a_folded_step_read_only_and_a_stranger_not_at_all(client):
    from tests.factories import VIEWERS, UserFactory

    workflow = workflow_with_steps(STEPS)
    vip = workflow.steps.get(key="vip")
    url = reverse("admin:workflows_workflow_stepforms", args=[workflow.pk])
    client.force_login(UserFactory(username="viewer", is_staff=True, roles=[VIEWERS]))
    form = client.get(url, {"rows": f"1.{vip.pk}"}).json()["forms"]["1"]
    assert "trigger.vip" in form and 'name="steps-1-key"' not in form, "shown, not editable"
    client.force_login(UserFactory(username="stranger", is_staff=True))
    assert client.get(url, {"rows": f"1.{vip.pk}"}).status_code == 404
