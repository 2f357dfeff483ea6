"""The approvals inbox and an approval's page say who may decide; the inbox has status tabs instead of a filter
column (so Decide fits the window), and its query count stays flat however many approvals it lists."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from executions.approvals import approval_decide
from executions.models import Approval
from tests.executions.test_approvals import refund_workflow, start
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
INBOX = reverse("admin:executions_approval_changelist")


@pytest.fixture
def managers():
    group = Group.objects.create(name="Managers")
    people = [UserFactory(username=name, is_staff=True) for name in ("maria", "tom")]
    group.user_set.add(*people)
    return people


def test_each_row_names_the_approvers_and_groups_and_the_tabs_filter_by_status(managers, client):
    UserFactory(username="ann", is_staff=True)
    start(refund_workflow(approvers=["ann"]))
    client.force_login(managers[0])
    page = client.get(INBOX + "?status__exact=pending").content.decode()
    assert '<td class="field-may_decide">ann, Managers (group)</td>' in page
    assert 'href="?status__exact=approved"' in page and 'class="selected" aria-current="page">Pending' in page
    assert 'id="changelist-filter"' not in page
    assert "Refund 250" not in client.get(INBOX + "?status__exact=approved").content.decode()


def test_the_approval_page_lists_each_eligible_person_and_why_and_leaves_out_the_requester(managers, client):
    maria, tom = managers
    tom.is_superuser = True  # may start the run: the requester
    tom.save()
    maria.first_name, maria.last_name = "Maria", "Lopez"
    maria.save()
    start(refund_workflow(required=2), user=tom)
    approval = Approval.objects.get()
    approval_decide(approval_id=approval.pk, user=maria, decision="approve")
    client.force_login(maria)
    page = client.get(reverse("admin:executions_approval_change", args=[approval.pk])).content.decode()
    assert "<li>Maria Lopez (maria) · Managers — approved</li>" in page
    assert "<li>tom · Managers — started the run, so may not decide</li>" in page


def test_the_inbox_makes_a_flat_number_of_queries_with_its_deciders(managers, client):
    client.force_login(managers[0])
    workflow = refund_workflow(approvers=["maria"])
    start(workflow)

    def count() -> int:
        client.get(INBOX)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(INBOX).status_code == 200
        return len(captured)

    few = count()
    for _ in range(6):
        start(workflow)
    assert Approval.objects.count() == 7 and count() == few
