"""The Run page opens as the run a person most likely wants: a live run of a live workflow waits for real."""

import pytest
from django.urls import reverse

from tests.factories import EditorFactory, active_workflow, log_step, workflow_with_steps

pytestmark = pytest.mark.django_db


def checked(page: str, name: str) -> bool:
    tag = page.split(f'name="{name}"')[0].rsplit("<input", 1)[1] + page.split(f'name="{name}"')[1].split(">", 1)[0]
    return "checked" in tag


def test_fast_forward_is_off_for_a_live_run_and_on_for_a_test_run_of_a_draft(client):
    editor = EditorFactory(username="ed", is_staff=True)
    client.force_login(editor)
    live = active_workflow([log_step("hello")], owner=editor)
    page = client.get(reverse("admin:workflows_workflow_run", args=[live.pk])).text
    assert not checked(page, "test_run") and not checked(page, "fast_forward")
    draft = workflow_with_steps([log_step("hello")], owner=editor)
    page = client.get(reverse("admin:workflows_workflow_run", args=[draft.pk])).text
    assert checked(page, "test_run") and checked(page, "fast_forward")


def test_every_admin_page_names_the_faos_favicon_and_it_is_served(client):
    from django.contrib.staticfiles import finders

    client.force_login(EditorFactory(username="ed", is_staff=True))
    page = client.get(reverse("admin:index")).text
    assert 'rel="icon"' in page and "faos/favicon.svg" in page
    assert finders.find("faos/favicon.svg").endswith("favicon.svg")
