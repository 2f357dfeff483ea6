"""Deciding from Slack, against a fake Slack: the message with buttons, signed presses (bad signature, stale
timestamp, replay), the member → user mapping, every rule of the inbox, the reject modal, the message updated
through the response_url, tasks' Complete button, and two presses at once making one decision."""

import json
import threading
import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from executions.models import Approval, OutboxMessage, Task
from executions.notifications import notify_approvers
from executions.tasks_service import task_create
from integrations.models import Connection, SlackAccount
from integrations.webhooks import sign
from tests.executions.decide_rows import approval_for, people
from tests.fakes import FakeServer
from tests.vendor import postgresql_only

pytestmark = pytest.mark.django_db
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
URL = "/api/slack/interactions/"


@pytest.fixture
def slack(settings):
    """A fake Slack (Web API and response_urls) and a connection with its bot token and signing secret."""
    server = FakeServer()
    server.route("POST", "/api/chat.postMessage", body={"ok": True, "channel": "C1", "ts": "1700000000.000100"})
    server.route("POST", "/api/views.open", body={"ok": True, "view": {"id": "V1"}})
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    settings.FAOS_APPROVAL_CHAT = ["slack:#approvals"]
    settings.FAOS_TASK_CHAT = ["slack:#ops"]
    creds = {"bot_token": "xoxb-test", "signing_secret": SECRET, "base_url": server.url}
    Connection.objects.create(service="slack", credentials=creds)
    yield server
    server.close()


@pytest.fixture
def who(slack):
    found = people()
    for name in ("maria", "tom", "ed", "eve"):
        SlackAccount.objects.create(user=found[name], member_id=f"U0{name.upper()}", team_id="T0FAOS")
    return found


def press(slack, action_id, value, member="U0MARIA", *, team="T0FAOS", secret=SECRET, ts=None, extra=None):
    """What Slack posts when someone presses a button: a form with one `payload` field, signed."""
    payload = {
        "type": "block_actions",
        "user": {"id": member, "username": member.lower(), "team_id": team},
        "team": {"id": team, "domain": "faos"},
        "trigger_id": "12345.98765.abcd2358fdea",
        "response_url": f"{slack.url}/actions/T0FAOS/1/respond",
        # action_ts makes each press's body (so its signature) unique, as in Slack's own
        "actions": [{"action_id": action_id, "type": "button", "value": value, "action_ts": str(time.time_ns())}],
        **(extra or {}),
    }
    return post(payload, secret=secret, ts=ts)


def post(payload: dict, *, secret=SECRET, ts=None, headers=None):
    body = urlencode({"payload": json.dumps(payload)}).encode()
    signed = headers if headers is not None else sign("slack", body=body, secret=secret, timestamp=ts)
    return Client().post(URL, body, content_type="application/x-www-form-urlencoded", headers=signed)


def shown(blocks) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def answers(slack) -> list[dict]:
    """What FAOS posted back to the press's response_url."""
    return [r.json() for r in slack.requests if r.path.startswith("/actions/")]


def test_the_notice_posts_the_request_with_approve_and_reject_buttons(who, slack):
    approval = approval_for(who)
    notify_approvers(approval_id=approval.pk, reason="opened")
    [sent] = [r for r in slack.requests if r.path == "/api/chat.postMessage"]
    body = sent.json()
    assert sent.headers["Authorization"] == "Bearer xoxb-test" and body["channel"] == "#approvals"
    assert body["text"].startswith("Approval needed: Refund 250 USD to ann@example.com? (250.00 USD)")
    [actions] = [b for b in body["blocks"] if b["type"] == "actions"]
    value = f"approval:{approval.pk}"
    assert [(e["action_id"], e.get("value")) for e in actions["elements"]] == [
        ("faos_approve", value),
        ("faos_reject", value),
        ("faos_open", None),
    ]
    assert actions["elements"][2]["url"].endswith(f"/admin/executions/approval/{approval.pk}/change/")


def test_approve_decides_for_the_mapped_person_and_the_message_shows_who(
    who, slack, django_capture_on_commit_callbacks
):
    approval = approval_for(who)
    with django_capture_on_commit_callbacks(execute=True):
        response = press(slack, "faos_approve", f"approval:{approval.pk}")
    assert response.status_code == 200 and response.content == b""
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.decisions.get().user == who["maria"]
    [update] = answers(slack)
    assert update["replace_original"] is True
    assert "Approved — approved by Maria Lopez (maria)" in shown(update["blocks"])
    assert "faos_approve" not in shown(update["blocks"])  # no buttons left on a decided request
    assert OutboxMessage.objects.get(kind="slack_respond").status == "sent"


def test_a_bad_signature_a_stale_timestamp_and_a_replay_are_refused(who, slack):
    approval = approval_for(who)
    value = f"approval:{approval.pk}"
    assert press(slack, "faos_approve", value, secret="not-the-secret").status_code == 403
    assert post({"type": "block_actions"}, headers={}).status_code == 401  # no signature headers at all
    stale = press(slack, "faos_approve", value, ts=int(time.time()) - 6 * 60)
    assert stale.status_code == 403 and "outside the allowed window" in stale.json()["detail"]
    approval.refresh_from_db()
    assert approval.status == "pending" and not approval.decisions.exists()
    payload = {"type": "block_actions", "user": {"id": "U0TOM"}, "team": {"id": "T0FAOS"}, "actions": []}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = sign("slack", body=body, secret=SECRET)
    form = "application/x-www-form-urlencoded"
    assert Client().post(URL, body, content_type=form, headers=headers).status_code == 200
    again = Client().post(URL, body, content_type=form, headers=headers)
    assert again.status_code == 403 and "replayed" in again.json()["detail"]


def test_without_a_signing_secret_no_press_is_accepted(who, slack):
    Connection.objects.update(credentials={"bot_token": "xoxb-test", "base_url": slack.url})
    approval = approval_for(who)
    assert press(slack, "faos_approve", f"approval:{approval.pk}").status_code == 403
    assert not approval.decisions.exists()


def test_an_unmapped_member_or_another_workspace_gets_a_private_note(who, slack, django_capture_on_commit_callbacks):
    approval = approval_for(who)
    with django_capture_on_commit_callbacks(execute=True):
        assert press(slack, "faos_approve", f"approval:{approval.pk}", "U0STRANGER").status_code == 200
        assert press(slack, "faos_approve", f"approval:{approval.pk}", team="T0OTHER").status_code == 200
    notes = answers(slack)
    assert [n["response_type"] for n in notes] == ["ephemeral", "ephemeral"]
    assert all(n["replace_original"] is False and "not linked to a FAOS user" in n["text"] for n in notes)
    assert "U0STRANGER" in notes[0]["text"] and not approval.decisions.exists()


@pytest.mark.parametrize(
    ("member", "note"),
    [("U0EVE", "No such approval."), ("U0ED", "You started this run, so someone else must approve it.")],
)
def test_the_inbox_rules_hold_for_an_outsider_and_the_requester(
    who, slack, django_capture_on_commit_callbacks, member, note
):
    approval = approval_for(who, requester_in_group=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert press(slack, "faos_approve", f"approval:{approval.pk}", member).status_code == 200
    [answer] = answers(slack)
    assert answer == {"response_type": "ephemeral", "replace_original": False, "text": note}
    assert not approval.decisions.exists()


def test_two_of_two_keep_the_buttons_until_the_second_approval(who, slack, django_capture_on_commit_callbacks):
    approval = approval_for(who, required=2)
    value = f"approval:{approval.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        press(slack, "faos_approve", value, "U0MARIA")
        press(slack, "faos_approve", value, "U0MARIA")
        press(slack, "faos_approve", value, "U0TOM")
    first, again, last = answers(slack)
    assert "1 of 2 needed so far: approved by Maria Lopez (maria)" in shown(first["blocks"])
    assert "faos_approve" in shown(first["blocks"])
    assert again["text"] == "You have already decided on this approval." and again["response_type"] == "ephemeral"
    assert "Approved — approved by Maria Lopez (maria), approved by tom" in shown(last["blocks"])
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.decisions.count() == 2


def test_reject_asks_for_a_reason_in_a_modal_and_refuses_an_empty_one(who, slack, django_capture_on_commit_callbacks):
    approval = approval_for(who)
    with django_capture_on_commit_callbacks(execute=True):
        assert press(slack, "faos_reject", f"approval:{approval.pk}", "U0TOM").status_code == 200
    [opened] = [r for r in slack.requests if r.path == "/api/views.open"]
    view = opened.json()["view"]
    assert opened.json()["trigger_id"] == "12345.98765.abcd2358fdea" and view["callback_id"] == "faos_reject_reason"
    meta = json.loads(view["private_metadata"])
    assert meta == {"approval": approval.pk, "response_url": f"{slack.url}/actions/T0FAOS/1/respond"}
    assert not approval.decisions.exists() and answers(slack) == []

    def submit(reason):
        state = {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}
        payload = {
            "type": "view_submission",
            "user": {"id": "U0TOM"},
            "team": {"id": "T0FAOS"},
            "view": {"callback_id": "faos_reject_reason", "private_metadata": view["private_metadata"], "state": state},
        }
        with django_capture_on_commit_callbacks(execute=True):
            return post(payload)

    empty = submit("")
    assert empty.json() == {"response_action": "errors", "errors": {"reason": "Say why you reject it."}}
    approval.refresh_from_db()
    assert approval.status == "pending"
    done = submit("duplicate of #41")
    assert done.status_code == 200 and done.content == b""  # an empty answer closes the modal
    approval.refresh_from_db()
    assert approval.status == "rejected" and approval.comment == "duplicate of #41"
    assert approval.decisions.get().user == who["tom"]
    assert "Rejected — rejected by tom: “duplicate of #41”" in shown(answers(slack)[-1]["blocks"])


def test_when_the_modal_cannot_open_the_presser_is_sent_to_the_inbox(who, slack, django_capture_on_commit_callbacks):
    slack.route("POST", "/api/views.open", body={"ok": False, "error": "expired_trigger_id"})
    approval = approval_for(who)
    with django_capture_on_commit_callbacks(execute=True):
        press(slack, "faos_reject", f"approval:{approval.pk}", "U0TOM")
    [note] = answers(slack)
    assert note["text"].startswith("Rejecting needs a reason: reject in FAOS, http")
    assert not approval.decisions.exists()


def test_a_response_url_that_is_not_slacks_is_never_called(who, slack, django_capture_on_commit_callbacks):
    approval = approval_for(who)
    with django_capture_on_commit_callbacks(execute=True):
        press(slack, "faos_approve", f"approval:{approval.pk}", extra={"response_url": "http://10.0.0.1/steal"})
    approval.refresh_from_db()
    assert approval.status == "approved" and not OutboxMessage.objects.filter(kind="slack_respond").exists()


def test_complete_marks_the_task_done_for_whom_it_is_for(who, slack, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        task = task_create(request={"title": "Call the customer", "assignee": "maria"})
    [posted] = [r.json() for r in slack.requests if r.path == "/api/chat.postMessage"]
    assert posted["channel"] == "#ops" and "faos_complete" in shown(posted["blocks"])
    with django_capture_on_commit_callbacks(execute=True):
        press(slack, "faos_complete", f"task:{task.pk}", "U0TOM")  # not his
        press(slack, "faos_complete", f"task:{task.pk}", "U0MARIA")
    note, update = answers(slack)
    assert note["text"] == "This task is not yours to complete." and note["response_type"] == "ephemeral"
    assert "Done by Maria Lopez (maria)" in shown(update["blocks"]) and "faos_complete" not in shown(update)
    task.refresh_from_db()
    assert task.status == Task.Status.DONE and task.completed_by == who["maria"]


def test_link_buttons_and_unknown_payloads_are_acknowledged_and_ignored(who, slack):
    approval = approval_for(who)
    assert press(slack, "faos_open", "").status_code == 200
    assert post({"type": "view_closed", "user": {"id": "U0MARIA"}}).status_code == 200
    odd = [
        {"type": "block_actions", "user": "U0MARIA", "team": 7, "actions": ["faos_approve"]},
        {"type": "block_actions", "user": {"id": "U0MARIA"}, "actions": [{"action_id": "faos_approve", "value": 5}]},
        {"type": "block_actions", "user": {"id": "U0MARIA"}, "actions": {"action_id": "faos_approve"}},
        {
            "type": "block_actions",
            "user": {"id": "U0MARIA"},
            "actions": [{"action_id": "faos_approve", "value": "approval:99999999999999999999"}],
        },
        {"type": "view_submission", "user": {"id": "U0MARIA"}, "view": "faos_reject_reason"},
        {
            "type": "view_submission",
            "user": {"id": "U0MARIA"},
            "view": {"callback_id": "faos_reject_reason", "private_metadata": "[1]"},
        },
    ]
    assert [post(payload).status_code for payload in odd] == [200] * len(odd)  # read defensively, never a 500
    body = b"payload=%7Bnot+json"
    headers = sign("slack", body=body, secret=SECRET)
    bad = Client().post(URL, body, content_type="application/x-www-form-urlencoded", headers=headers)
    assert bad.status_code == 400 and "payload" in bad.json()
    assert not approval.decisions.exists()


@pytest.mark.django_db(transaction=True)
@postgresql_only("row locks need PostgreSQL")
def test_two_approvers_pressing_at_the_same_instant_make_one_decision(settings):
    server = FakeServer()
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    Connection.objects.create(service="slack", credentials={"signing_secret": SECRET, "base_url": server.url})
    found = people()
    for name in ("maria", "tom"):
        SlackAccount.objects.create(user=found[name], member_id=f"U0{name.upper()}")
    approval = approval_for(found)
    barrier, codes = threading.Barrier(2), []

    def click(member):
        try:
            barrier.wait()
            codes.append(press(server, "faos_approve", f"approval:{approval.pk}", member).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(m,)) for m in ("U0MARIA", "U0TOM")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while len(answers(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the answers are delivered by the outbox after each commit
    server.close()
    approval.refresh_from_db()
    assert codes == [200, 200] and approval.status == Approval.Status.APPROVED and approval.decisions.count() == 1
    texts = sorted(json.dumps(a) for a in answers(server))
    assert len(texts) == 2 and sum("Already approved." in t for t in texts) == 1
