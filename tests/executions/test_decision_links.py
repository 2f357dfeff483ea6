"""One-click e-mail links: each approver's own, signed, single-use, expiring; GET only shows, POST (with CSRF)
decides through approval_decide / task_complete, so every rule of the inbox holds."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test import Client
from django.utils import timezone

from executions.decision_links import SALT, decision_keys_prune, links_for
from executions.models import Approval, Task, UsedDecisionKey
from executions.notifications import notify_approvers, notify_task
from executions.tasks_service import task_create
from tests.executions.decide_rows import approval_for, links_in, people
from tests.vendor import postgresql_only

pytestmark = pytest.mark.django_db


@pytest.fixture
def who():
    return people()


def mails_by_person(mailoutbox) -> dict:
    return {m.to[0].split("@")[0]: m for m in mailoutbox}


def confirm(path: str, data: dict | None = None, method: str = "post"):
    """Open the page as a browser would (a fresh client, CSRF enforced), then press the button."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    if method == "get" or page.status_code != 200:
        return page
    token = browser.cookies["csrftoken"].value
    return browser.post(path, {"csrfmiddlewaretoken": token, **(data or {})})


def test_each_approver_gets_their_own_links_and_the_requester_gets_none(who, mailoutbox):
    approval = approval_for(who, requester_in_group=True)
    assert notify_approvers(approval_id=approval.pk, reason="opened") == 3
    mails = mails_by_person(mailoutbox)
    assert sorted(mails) == ["ed", "maria", "tom"] and all(len(m.to) == 1 for m in mailoutbox)
    assert set(links_in(mails["maria"])) == {"approve", "reject"} and links_in(mails["ed"]) == {}
    assert links_in(mails["maria"])["approve"] != links_in(mails["tom"])["approve"]
    assert "expire in 72 hours" in mails["maria"].body and "/admin/executions/approval/" in mails["ed"].body


def test_opening_the_link_shows_what_will_be_decided_and_only_the_post_decides(who, mailoutbox):
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    path = links_in(mails_by_person(mailoutbox)["maria"])["approve"]
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)  # what a mail scanner's prefetch does
    text = page.content.decode()
    assert page.status_code == 200 and "Refund 250 USD to ann@example.com?" in text
    assert "You are deciding as <strong>Maria Lopez (maria)</strong>" in text and "250.00 USD" in text
    assert page["Referrer-Policy"] == "same-origin" and "no-store" in page["Cache-Control"]
    assert browser.head(path).status_code == 200
    approval.refresh_from_db()
    assert approval.status == "pending" and not approval.decisions.exists()
    assert browser.post(path, {}).status_code == 403  # no CSRF token: refused, nothing decided
    assert not approval.decisions.exists()
    done = browser.post(path, {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value, "comment": "fine"})
    assert done.status_code == 200 and "Recorded: approved" in done.content.decode()
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.decisions.get().user == who["maria"]
    assert approval.decisions.get().comment == "fine"


def test_a_used_link_says_so_and_decides_nothing_again(who, mailoutbox):
    approval = approval_for(who, required=2)
    notify_approvers(approval_id=approval.pk, reason="opened")
    links = links_in(mails_by_person(mailoutbox)["maria"])
    assert confirm(links["approve"]).status_code == 200
    again = Client().post(links["approve"])
    assert again.status_code == 410 and "This link has been used" in again.content.decode()
    other = Client().get(links["reject"])  # the other link of the same e-mail is spent with it
    assert other.status_code == 410
    assert approval.decisions.count() == 1 and UsedDecisionKey.objects.count() == 1


def test_a_link_expires_when_its_time_is_up_and_a_later_setting_does_not_revive_it(who, mailoutbox, settings):
    settings.FAOS_DECISION_LINK_HOURS = 1
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    path = links_in(mails_by_person(mailoutbox)["maria"])["approve"]
    assert "expire in 1 hours" in mails_by_person(mailoutbox)["maria"].body
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        assert Client().get(path).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        page = Client().get(path)
        assert page.status_code == 410 and "This link has expired" in page.content.decode()
        assert Client().post(path).status_code == 410
        settings.FAOS_DECISION_LINK_HOURS = 100  # only links sent from now on last longer
        assert Client().get(path).status_code == 410
    assert not approval.decisions.exists()


def test_spent_keys_are_forgotten_once_their_links_have_expired(who, mailoutbox):
    approval = approval_for(who, required=2)
    notify_approvers(approval_id=approval.pk, reason="opened")
    path = links_in(mails_by_person(mailoutbox)["maria"])["approve"]
    assert confirm(path).status_code == 200
    assert decision_keys_prune(now=timezone.now() + timedelta(hours=71)) == 0  # the link still exists: kept
    later = timezone.now() + timedelta(hours=72, minutes=1)
    assert decision_keys_prune(now=later) == 1 and not UsedDecisionKey.objects.exists()
    with time_machine.travel(later):
        assert Client().post(path).status_code == 410  # expired anyway
    assert approval.decisions.count() == 1


def test_a_tampered_or_forged_link_is_refused(who, mailoutbox):
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    path = links_in(mails_by_person(mailoutbox)["maria"])["approve"]
    token = path.split("/")[-2]
    tampered = path.replace(token, token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"))
    assert Client().get(tampered).status_code == 404
    payload = signing.loads(token, salt=SALT)
    forged = signing.dumps({**payload, "u": who["tom"].pk}, salt="another.salt", compress=True)
    page = Client().get(f"/decide/{forged}/")
    assert page.status_code == 404 and "This link is not valid" in page.content.decode()
    assert not approval.decisions.exists()


def test_the_link_works_only_for_the_person_it_was_sent_to(who, mailoutbox):
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    links = links_in(mails_by_person(mailoutbox)["maria"])
    maria = who["maria"]
    maria.email = "maria@elsewhere.example"  # the mailbox it went to is no longer hers
    maria.save()
    assert Client().get(links["approve"]).status_code == 403
    maria.email = "maria@example.com"
    maria.save()
    who["group"].user_set.remove(maria)  # no longer an approver
    page = Client().get(links["approve"])
    assert page.status_code == 403 and "Not yours to decide" in page.content.decode()
    assert not approval.decisions.exists()


def test_the_requester_cannot_approve_even_with_a_link_made_for_them(who):
    approval = approval_for(who, requester_in_group=True)
    path = links_for(approval, user=who["ed"])["approve"].split("://", 1)[1].split("/", 1)[1]
    page = Client().get("/" + path)
    assert page.status_code == 403 and "someone else must approve it" in page.content.decode()
    assert Client().post("/" + path).status_code == 403 and not approval.decisions.exists()


def test_reject_needs_a_reason_and_the_link_stays_good_until_one_is_given(who, mailoutbox):
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    path = links_in(mails_by_person(mailoutbox)["tom"])["reject"]
    page = confirm(path, {"comment": "  "})
    assert page.status_code == 400 and "Say why you reject it." in page.content.decode()
    approval.refresh_from_db()
    assert approval.status == "pending" and not UsedDecisionKey.objects.exists()
    assert confirm(path, {"comment": "duplicate refund"}).status_code == 200
    approval.refresh_from_db()
    assert approval.status == "rejected" and approval.comment == "duplicate refund"


def test_two_of_two_need_both_links_and_a_decided_request_says_so(who, mailoutbox):
    approval = approval_for(who, required=2)
    notify_approvers(approval_id=approval.pk, reason="opened")
    opened = mails_by_person(mailoutbox)
    first = confirm(links_in(opened["maria"])["approve"])
    assert "1 of 2 needed so far" in first.content.decode()
    approval.refresh_from_db()
    assert approval.status == "pending"
    notify_approvers(approval_id=approval.pk, reason="reminder")
    reminded = mails_by_person(mailoutbox[2:])
    assert links_in(reminded["maria"]) == {}  # she has decided: her reminder carries no links
    assert confirm(links_in(reminded["tom"])["approve"]).status_code == 200
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.decisions.count() == 2
    page = Client().get(links_in(opened["tom"])["approve"])  # his first e-mail's link, never used
    assert page.status_code == 409 and "already approved" in page.content.decode()


def test_a_task_email_carries_each_persons_complete_link(who, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        task = task_create(request={"title": "Call the customer", "description": "Ask why", "group": "Managers"})
    mails = mails_by_person(mailoutbox)
    assert sorted(mails) == ["maria", "tom"] and mails["maria"].subject == "[FAOS] Task: Call the customer"
    page = confirm(links_in(mails["tom"])["complete"])
    assert page.status_code == 200 and "Marked as done" in page.content.decode()
    task.refresh_from_db()
    assert task.status == Task.Status.DONE and task.completed_by == who["tom"]
    late = Client().get(links_in(mails["maria"])["complete"])
    assert late.status_code == 409 and "Already done" in late.content.decode()


def test_a_task_link_refuses_someone_the_task_is_no_longer_for(who, mailoutbox):
    task = Task.objects.create(title="Restock", assignee=who["maria"])
    notify_task(task_id=task.pk)
    path = links_in(mailoutbox[0])["complete"]
    task.assignee = who["tom"]
    task.save()
    assert Client().get(path).status_code == 403
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


@pytest.mark.django_db(transaction=True)
@postgresql_only("row locks need PostgreSQL")
def test_two_approvers_confirming_at_the_same_instant_make_one_decision(mailoutbox):
    who = people()
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    mails = mails_by_person(mailoutbox)
    paths = [links_in(mails["maria"])["approve"], links_in(mails["tom"])["reject"], links_in(mails["maria"])["approve"]]
    barrier, codes = threading.Barrier(len(paths)), []

    def press(path):
        try:
            barrier.wait()
            codes.append(Client().post(path, {"comment": "no"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    approval.refresh_from_db()
    assert approval.decisions.count() == 1 and approval.status in (Approval.Status.APPROVED, Approval.Status.REJECTED)
    assert sorted(codes).count(200) == 1 and all(code in (200, 409, 410) for code in codes), codes


@pytest.mark.django_db(transaction=True)
def test_a_paused_refund_goes_on_when_a_manager_approves_from_the_email(mailoutbox):
    from tests.executions.test_approvals import keys, refund_workflow, start

    people()
    execution = start(refund_workflow())
    assert execution.status == "waiting"
    page = confirm(links_in(mails_by_person(mailoutbox)["tom"])["approve"], {"comment": "ok from my phone"})
    assert page.status_code == 200
    execution.refresh_from_db()
    assert execution.status == "succeeded" and "process_refund" in keys(execution)
    result = execution.step_runs.get(step_key="manager_approval").output
    assert result["deciders"] == ["tom"] and result["comment"] == "ok from my phone"
