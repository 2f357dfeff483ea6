"""The admin as a product in a real browser: the index and the side bar put the daily work first and Celery Beat's
and the token tables last under System; list and change pages are titled in the product's words."""

import pytest

from tests.browser.conftest import login, shot
from tests.factories import workflow_with_steps

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORK = ["Workflows", "Executions", "Approvals", "Activations", "Tasks", "Integrations", "Notifications"]
SECTIONS = ["Work", "Building blocks", "People", "System"]
ONE_LINE = """e => {
    const s = getComputedStyle(e);
    return e.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom) < 1.5 * parseFloat(s.lineHeight);
}"""


def texts(locator) -> list[str]:
    return [text.strip() for text in locator.all_text_contents()]  # as written, before CSS upper-cases headings


@pytest.fixture
def signed_in(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("olga", "olga@example.com", "pw-olga-123")
    login(page, live_server.url, "olga", "pw-olga-123")
    return page


def test_the_index_lists_the_daily_work_first_and_system_tables_last(live_server, signed_in):
    page = signed_in
    page.goto(f"{live_server.url}/admin/")
    assert page.title() == "Home | FAOS Workflows"
    assert texts(page.locator("#content-main .module caption")) == SECTIONS
    assert texts(page.locator("#content-main .app-work th a")) == WORK
    system = page.locator("#content-main .app-system")
    assert texts(system.locator("th a"))[0] == "Periodic tasks" and "Tokens" in texts(system.locator("th a"))
    assert "Managed by FAOS" in system.locator(".faos-section-note").inner_text()  # one line, under the table
    note = system.locator(".faos-section-note")
    assert note.is_visible() and note.evaluate(ONE_LINE)
    assert "Celery" not in page.inner_text("#content-main") and "Auth Token" not in page.inner_text("#content-main")
    shot(page, "admin-index")


def test_the_side_bar_has_the_same_order_and_marks_the_open_list(live_server, signed_in):
    page = signed_in
    page.goto(f"{live_server.url}/admin/executions/approval/")
    sidebar = page.locator("#nav-sidebar")
    assert texts(sidebar.locator(".module caption")) == SECTIONS
    assert texts(sidebar.locator(".app-work th a")) == WORK
    assert texts(sidebar.locator("tr.current-model th a")) == ["Approvals"]
    assert sidebar.locator(".module.current-app").count() == 0  # a section is no page: none is "current"
    page.click("#nav-sidebar .app-work th a:text-is('Integrations')")
    page.wait_for_url("**/admin/integrations/connection/services/")
    assert page.locator("h1").inner_text() == "Integrations"


def test_a_list_and_a_change_page_are_titled_in_the_products_words(live_server, signed_in):
    page = signed_in
    workflow_with_steps([], name="Support Ticket Escalation")
    page.goto(f"{live_server.url}/admin/workflows/workflow/")
    assert page.title() == "Workflows | FAOS Workflows" and page.locator("h1").inner_text() == "Workflows"
    assert "Select workflow" not in page.content()
    page.click("#result_list a:text-is('Support Ticket Escalation')")
    page.wait_for_url("**/change/")
    assert page.title() == "Support Ticket Escalation | FAOS Workflows"
    assert page.locator("h1").inner_text() == "Support Ticket Escalation"
    assert "Change workflow" not in page.content()
    assert page.locator(".breadcrumbs").inner_text().split("›")[-1].strip() == "Support Ticket Escalation"
    page.goto(f"{live_server.url}/admin/workflows/workflow/add/")
    assert page.title() == "New workflow | FAOS Workflows" and page.locator("h1").inner_text() == "New workflow"
