"""FAOS' admin site: sections in the product's order on the index and the side bar, titles in its words."""

import re

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils.html import escape

from executions.models import Execution
from faos.admin_site import SYSTEM_NOTE, FaosAdminSite, ProductTitles
from tests.factories import VIEWERS, UserFactory, workflow_with_steps
from workflows.models import Step
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db

WORK = ["Workflows", "Executions", "Approvals", "Activations", "Tasks", "Integrations", "Notifications"]
BEAT_AND_TOKENS = {"Periodic tasks", "Crontabs", "Intervals", "Clocked", "Solar events", "Tokens"}


def sections_for(user, site=admin.site):
    request = RequestFactory().get("/admin/")
    request.user = user
    return site.get_app_list(request)


def heading(html: str, tag: str) -> str:
    return re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S).group(1).strip()


def test_the_index_puts_the_daily_work_first_in_the_products_order(admin_user):
    sections = sections_for(admin_user)
    assert [s["name"] for s in sections] == ["Work", "Building blocks", "People", "System"]
    assert [str(m["name"]) for m in sections[0]["models"]] == WORK


def test_integrations_open_the_catalog_and_connections_stay_listed_under_building_blocks(admin_user):
    work, build = sections_for(admin_user)[:2]
    integrations = next(m for m in work["models"] if m["name"] == "Integrations")
    assert integrations["admin_url"] == reverse("admin:integrations_connection_services")
    connections = next(m for m in build["models"] if m["name"] == "Connections")
    assert connections["admin_url"] == reverse("admin:integrations_connection_changelist")


def test_beat_and_token_tables_are_one_system_section_at_the_end_with_a_note(admin_user, client):
    system = sections_for(admin_user)[-1]
    assert system["name"] == "System" and {str(m["name"]) for m in system["models"]} == BEAT_AND_TOKENS
    assert str(system["models"][0]["name"]) == "Periodic tasks"
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert html.index('class="app-work ') < html.index('class="app-system ')
    assert f'<p class="faos-section-note">{escape(SYSTEM_NOTE)}</p>' in html
    assert "Celery Beat" not in html and "Periodic Tasks</a>" not in html and "Auth Token" not in html


def test_a_viewer_sees_only_the_sections_with_pages_they_may_open():
    viewer = UserFactory(roles=[VIEWERS], is_staff=True)
    names = [s["name"] for s in sections_for(viewer)]
    assert names[0] == "Work" and "System" not in names and "People" not in names


def test_a_model_no_section_names_still_shows_under_more(admin_user):
    site = FaosAdminSite(name="probe")
    site.register(Step)  # only an inline on the real site: no section names it
    assert [(s["name"], [m["object_name"] for m in s["models"]]) for s in sections_for(admin_user, site)] == [
        ("More", ["Step"])
    ]


def test_every_registered_admin_gets_the_product_titles():
    assert all(isinstance(model_admin, ProductTitles) for model_admin in admin.site._registry.values())


def test_the_side_bar_marks_only_the_open_page_not_every_section(admin_user, client):
    client.force_login(admin_user)
    html = client.get(reverse("admin:executions_execution_changelist")).content.decode()
    sidebar = html[html.index('id="nav-sidebar"') :]
    assert sidebar.count("current-app") == 0 and sidebar.count(" current-model") == 1
    assert sidebar.index(">Workflows</a>") < sidebar.index(">Executions</a>") < sidebar.index(">Approvals</a>")


def test_on_the_integrations_catalog_only_integrations_is_the_open_page(admin_user, client):
    client.force_login(admin_user)
    html = client.get(reverse("admin:integrations_connection_services")).content.decode()
    sidebar = html[html.index('id="nav-sidebar"') :]
    assert sidebar.count(" current-model") == 1
    assert re.search(r'current-model">\s*<th[^>]*>\s*<a [^>]*aria-current="page">Integrations</a>', sidebar)


def test_list_pages_are_titled_with_the_plural_in_title_and_heading(admin_user, client):
    client.force_login(admin_user)
    for url, title in [
        ("admin:workflows_workflow_changelist", "Workflows"),
        ("admin:executions_execution_changelist", "Executions"),
        ("admin:executions_approval_changelist", "Approvals"),
        ("admin:executions_task_changelist", "Tasks"),
        ("admin:integrations_connection_changelist", "Connections"),
        ("admin:workflows_workflowtemplate_changelist", "Template gallery"),  # a ModelAdmin's own list_title
        ("admin:django_celery_beat_periodictask_changelist", "Periodic tasks"),
    ]:
        html = client.get(reverse(url)).content.decode()
        assert heading(html, "title") == f"{title} | FAOS Workflows" and heading(html, "h1") == title
        assert "to change" not in html and "to view" not in html


def test_a_change_page_is_titled_with_the_objects_name(admin_user, client):
    client.force_login(admin_user)
    workflow = workflow_with_steps([], name="Support Ticket Escalation")
    html = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    assert heading(html, "title") == "Support Ticket Escalation | FAOS Workflows"
    assert heading(html, "h1") == "Support Ticket Escalation" and "Change workflow" not in html
    assert "<h2>Support Ticket Escalation</h2>" not in html  # Django's subtitle would repeat the name


def test_a_read_only_run_page_is_titled_with_the_run(admin_user, client):
    client.force_login(admin_user)
    workflow = workflow_with_steps([{"key": "a", "name": "A", "kind": "complete", "config": {}}], name="Refunds")
    execution = Execution.objects.create(workflow=workflow, version=workflow_activate(workflow=workflow), input={})
    html = client.get(reverse("admin:executions_execution_change", args=[execution.pk])).content.decode()
    assert heading(html, "h1") == f"Run #{execution.pk} of Refunds" and "View execution" not in html


def test_add_pages_say_new_and_breadcrumbs_skip_the_django_app(admin_user, client):
    client.force_login(admin_user)
    html = client.get(reverse("admin:workflows_workflow_add")).content.decode()
    assert heading(html, "title") == "New workflow | FAOS Workflows" and heading(html, "h1") == "New workflow"
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
    assert crumbs.count("<a ") == 2 and f'href="{reverse("admin:app_list", args=["workflows"])}"' not in crumbs
    assert "Add workflow" not in html


def test_a_picker_pop_up_keeps_its_select_title(admin_user, client):
    client.force_login(admin_user)
    html = client.get(reverse("admin:workflows_workflow_changelist") + "?_popup=1&_to_field=id").content.decode()
    assert heading(html, "h1") == "Select workflow"


def test_an_apps_own_page_is_titled_with_its_name(admin_user, client):
    client.force_login(admin_user)
    html = client.get(reverse("admin:app_list", args=["executions"])).content.decode()
    assert heading(html, "h1") == "Executions" and "administration" not in heading(html, "title")


def test_a_list_rows_checkbox_is_djangos_written_without_templates():
    run = Execution(pk=7, workflow=workflow_with_steps([], name='Refund "quoted" <b>&'))
    run_admin = admin.site._registry[Execution]
    assert "&quot;quoted&quot; &lt;b&gt;&amp;" in run_admin.action_checkbox(run)
    assert run_admin.action_checkbox(run) == admin.ModelAdmin.action_checkbox(run_admin, run)
