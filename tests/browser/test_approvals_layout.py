"""The approvals inbox at 1280×800 in a real browser: Approve and Reject are in view without scrolling sideways, each
row says who may decide, and the approval's own page lists the people (not the one who started the run)."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from executions.models import Approval
from tests.browser.conftest import ARTIFACTS, login
from tests.executions.test_approvals import refund_workflow, start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# the element at the button's centre is the button: nothing covers it and no scroller clips it
ON_TOP = """el => { const r = el.getBoundingClientRect();
  return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"""


@pytest.fixture
def people(django_user_model):
    managers = Group.objects.create(name="Managers")
    maria = django_user_model.objects.create_user(
        "maria", "maria@example.com", "pw-maria-123", is_staff=True, first_name="Maria", last_name="Lopez"
    )
    tom = django_user_model.objects.create_user(
        "tom", "tom@example.com", "pw-tom-123", is_staff=True, is_superuser=True
    )  # may run the workflow: the requester
    ann = django_user_model.objects.create_user("ann", "ann@example.com", "pw-ann-123", is_staff=True)
    managers.user_set.add(maria, tom)
    return {"maria": maria, "tom": tom, "ann": ann}


def test_decide_buttons_fit_1280_and_each_row_says_who_may_decide(live_server, page, people):
    start(refund_workflow(approvers=["ann"], due="2d"), user=people["tom"])
    approval = Approval.objects.get()
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, live_server.url, "maria", "pw-maria-123")
    page.goto(live_server.url + reverse("admin:executions_approval_changelist") + "?status__exact=pending")

    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "no sideways scrolling"
    for button in ("button[value=approve]", "a.button:has-text('Reject')"):
        control = page.locator(f"#result_list {button}").first
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, button
        assert control.evaluate(ON_TOP), f"{button} is hidden behind something"
    who = page.inner_text("#result_list td.field-may_decide")
    assert "ann" in who and "Managers (group)" in who
    assert page.locator(".faos-tabs a.selected").inner_text() == "Pending"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "approvals-inbox-1280.png"), full_page=True)

    page.click(f"#result_list th.field-title a[href*='/{approval.pk}/change/']")
    deciders = page.inner_text(".field-deciders .readonly")
    assert "Maria Lopez (maria) · Managers" in deciders and "ann · named" in deciders
    assert "tom · Managers — started the run, so may not decide" in deciders
    page.screenshot(path=str(ARTIFACTS / "approval-detail-1280.png"), full_page=True)
