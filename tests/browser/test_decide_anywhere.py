"""In a real browser: an administrator links a person's Slack account on their user page, and an approver decides
from the e-mail's link on the confirmation page (screenshots under artifacts/, used by the README)."""

import pytest
from django.core import mail

from executions.notifications import notify_approvers
from integrations.models import SlackAccount
from tests.browser.conftest import ARTIFACTS, login, shot
from tests.executions.decide_rows import approval_for, links_in, people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_links_a_persons_slack_account_on_their_user_page(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    maria = people()["maria"]
    login(page, live_server.url, "root", "pw-root-123")
    page.goto(f"{live_server.url}/admin/auth/user/{maria.pk}/change/")
    page.click("#slack_account-group .add-row a")
    page.fill("#id_slack_account-0-member_id", "maria")  # not a member ID: refused at its field
    page.click("input[name=_continue]")
    page.wait_for_selector("#slack_account-group .errorlist:has-text('A Slack member ID looks like U012AB3CD.')")
    page.fill("#id_slack_account-0-member_id", "U012AB3CD")
    page.fill("#id_slack_account-0-team_id", "T0FAOS")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    page.locator("#slack_account-group").screenshot(path=str(ARTIFACTS / "slack-account.png"))
    assert SlackAccount.objects.get(user=maria).member_id == "U012AB3CD"


def test_an_approver_confirms_from_the_email_link_without_signing_in(live_server, page, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    who = people()
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    [to_maria] = [m for m in mail.outbox if m.to == ["maria@example.com"]]
    reject = links_in(to_maria)["reject"]
    page.goto(live_server.url + reject)
    page.wait_for_selector("h1:has-text('Reject: Refund 250 USD to ann@example.com?')")
    assert "Maria Lopez (maria)" in page.inner_text("#content-main")
    page.fill("#id_comment", "The order was never delivered; ask the carrier first.")
    shot(page, "decision-link-confirm")
    page.click("#faos-decision-form [type=submit]")
    page.wait_for_selector("#faos-decision-done:has-text('Recorded: rejected')")
    shot(page, "decision-link-done")
    page.goto(live_server.url + reject)  # the same link again
    page.wait_for_selector("#faos-decision-problem:has-text('This link has been used')")
    approval.refresh_from_db()
    assert approval.status == "rejected" and approval.decisions.get().user == who["maria"]
