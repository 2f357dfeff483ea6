"""Decide from Slack: approval and task messages with buttons, and the presses that come back.

Slack posts each press to /api/slack/interactions/ (Slack's interactivity), signed with the app's signing
secret, which is stored on the Slack connection. The presser's Slack member ID maps to a FAOS user through
SlackAccount (set by an administrator); the decision goes through approval_decide / task_complete like the
inbox's, so every rule holds. Rejecting opens a modal that asks for the reason. Slack is answered through the
press's response_url (the message updated to show who decided, or a note only the presser sees), by outbox
rows written in the deciding transaction.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from integrations.models import Connection, SlackAccount
from integrations.webhooks import SignatureError, verify
from workflows import authz

from .approvals import ApprovalError, approval_decide, approval_url
from .models import Approval, Task, UsedDecisionKey
from .runtime import outbox
from .runtime.outbox import outbox_add
from .slack_api import open_view, response_url_allowed
from .tasks_service import task_complete

logger = logging.getLogger(__name__)

APPROVE, REJECT, COMPLETE, OPEN = "faos_approve", "faos_reject", "faos_complete", "faos_open"
REASON_VIEW, REASON = "faos_reject_reason", "reason"
REPLAY_WINDOW = timedelta(minutes=10)
PAST = {"approve": "approved", "reject": "rejected"}


def _escape(text: str) -> str:
    """Slack's mrkdwn treats <…> as links and mentions: a title from trigger data must not ping a channel."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(kind: str, text: str) -> dict:
    return {"type": kind, "text": text}


def _button(action_id: str, label: str, value: str, style: str = "") -> dict:
    button = {"type": "button", "action_id": action_id, "text": _text("plain_text", label), "value": value}
    return button | ({"style": style} if style else {})


def _open(url: str) -> dict:
    """A link button (Slack still posts its press, which is ignored)."""
    return {"type": "button", "action_id": OPEN, "text": _text("plain_text", "Open in FAOS"), "url": url}


def approval_message(approval: Approval, heading: str = "Approval") -> dict:
    """chat.postMessage's text and blocks: the request, who decided so far, and the buttons while it is pending."""
    amount = f" ({approval.amount:,.2f} {approval.currency})".replace(" )", ")") if approval.amount is not None else ""
    summary = f"{heading}: {approval.title}{amount}"
    lines = [f"*{_escape(summary)}*", _escape(approval.details)[:2500]]
    lines.append(f"Workflow: {_escape(approval.execution.workflow.name)}, run #{approval.execution_id}")
    blocks = [{"type": "section", "text": _text("mrkdwn", "\n".join(line for line in lines if line)[:3000])}]
    decided = [f"{PAST[d.decision]} by {person_label(d.user)}" for d in approval.decisions.select_related("user")]
    elements = [_open(approval_url(approval))]
    if approval.status == Approval.Status.PENDING:
        if decided:
            progress = f"{len(decided)} of {approval.required_approvals} needed so far: " + ", ".join(decided)
            blocks.append({"type": "context", "elements": [_text("mrkdwn", _escape(progress))]})
        value = f"approval:{approval.pk}"
        elements[:0] = [_button(APPROVE, "Approve", value, "primary"), _button(REJECT, "Reject…", value, "danger")]
    else:
        outcome = f"{approval.get_status_display()}" + (f" — {', '.join(decided)}" if decided else "")
        if approval.comment:
            outcome += f": “{approval.comment}”"
        blocks.append({"type": "context", "elements": [_text("mrkdwn", _escape(outcome)[:2900])]})
    blocks.append({"type": "actions", "block_id": f"faos_approval_{approval.pk}", "elements": elements})
    return {"text": f"{summary} — {approval_url(approval)}", "blocks": blocks}


def task_message(task: Task, heading: str = "Task") -> dict:
    """chat.postMessage's text and blocks for a task: a Complete button while it is open."""
    from django.conf import settings

    url = settings.SITE_URL.rstrip("/") + reverse("admin:executions_task_change", args=[task.pk])
    lines = [f"*{_escape(heading)}: {_escape(task.title)}*", _escape(task.description)[:2500]]
    if task.assignee_id or task.assignee_group_id:
        lines.append(f"For: {_escape(task.assignee or task.assignee_group)}")
    blocks = [{"type": "section", "text": _text("mrkdwn", "\n".join(line for line in lines if line)[:3000])}]
    elements = [_open(url)]
    if task.status == Task.Status.OPEN:
        elements.insert(0, _button(COMPLETE, "Complete", f"task:{task.pk}", "primary"))
    else:
        who = f" by {person_label(task.completed_by)}" if task.completed_by else ""
        blocks.append({"type": "context", "elements": [_text("mrkdwn", _escape(task.get_status_display() + who))]})
    blocks.append({"type": "actions", "block_id": f"faos_task_{task.pk}", "elements": elements})
    return {"text": f"{heading}: {task.title} — {url}", "blocks": blocks}


def person_label(user) -> str:
    """ "Maria Lopez (maria)", or the username alone."""
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()


def slack_verify(*, body: bytes, headers) -> tuple[Connection, str]:
    """The Slack connection whose signing secret signed this request, and its replay key; else SignatureError."""
    connections = [c for c in Connection.objects.filter(service="slack") if c.credentials.get("signing_secret")]
    if not connections:
        raise SignatureError("No Slack connection has a signing secret.", status=403)
    error = None
    for connection in connections:
        try:
            digest = verify("slack", body=body, headers=headers, secrets=[connection.credentials["signing_secret"]])
            return connection, digest
        except SignatureError as exc:  # another workspace's app may have signed it
            error = exc
    raise error


def slack_spend(digest: str) -> bool:
    """Record a verified request; False when it was seen before (a replay inside the five-minute window)."""
    try:
        with transaction.atomic():
            # a signed request is good for five minutes (integrations.webhooks), kept a little longer
            UsedDecisionKey.objects.create(key=f"slack:{digest}"[:100], expires_at=timezone.now() + REPLAY_WINDOW)
    except IntegrityError:
        return False
    return True


@dataclass
class Press:
    """One verified interaction: who pressed (mapped to FAOS), where to answer."""

    connection: Connection
    payload: dict
    digest: str

    @property
    def response_url(self) -> str:
        url = str(self.payload.get("response_url") or "")
        return url if response_url_allowed(url, self.connection) else ""

    @property
    def user(self):
        return slack_user(self.payload)


def _dict(value) -> dict:
    """A part of the payload that should be an object, or {} (a signed payload is still read defensively)."""
    return value if isinstance(value, dict) else {}


def _row_id(value) -> int | None:
    """A row id from a button's value or the modal's metadata; None for anything a database id cannot be."""
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 16 else None


def slack_user(payload: dict):
    """The active FAOS user this Slack member is mapped to (this workspace's row first), or None."""
    person = _dict(payload.get("user"))
    member = str(person.get("id") or "")
    team = str(_dict(payload.get("team")).get("id") or person.get("team_id") or "")
    rows = SlackAccount.objects.select_related("user").filter(
        member_id=member, team_id__in=[team, ""], user__is_active=True
    )
    found = sorted(rows, key=lambda row: row.team_id != team)  # the exact workspace beats "any workspace"
    return found[0].user if member and found else None


def interaction_handle(press: Press) -> dict | None:
    """Act on one interaction; the JSON to answer Slack with (a modal's errors), or None for an empty 200."""
    kind = press.payload.get("type")
    if kind == "block_actions":
        _on_press(press)
    elif kind == "view_submission" and _dict(press.payload.get("view")).get("callback_id") == REASON_VIEW:
        return _on_reason(press)
    return None


def _on_press(press: Press) -> None:
    actions = press.payload.get("actions")
    action = _dict(actions[0] if isinstance(actions, list) and actions else None)
    action_id, value = action.get("action_id"), str(action.get("value") or "")
    kind, _, pk = value.partition(":")
    pk = _row_id(pk)
    if action_id not in (APPROVE, REJECT, COMPLETE) or pk is None:
        return  # "Open in FAOS" (a link button) and anything else: nothing to do
    user = press.user
    if user is None:
        member = _dict(press.payload.get("user")).get("id", "?")
        return _note(
            press,
            f"Your Slack account ({member}) is not linked to a FAOS user: ask an administrator to "
            "add your Slack member ID on your user page in FAOS, or decide in FAOS.",
        )
    if action_id == COMPLETE and kind == "task":
        return _complete(press, user, pk)
    if kind == "approval" and action_id == APPROVE:
        return _decide(press, user, pk, "approve", "")
    if kind == "approval":
        return _ask_reason(press, user, pk)
    return None


def _decide(
    press: Press, user, approval_id: int, decision: str, comment: str, *, url: str = "", note: bool = True
) -> str | None:
    """Decide through approval_decide and update the message; the refusal's text (sent to the presser as a note
    unless the modal shows it)."""
    url = url or press.response_url
    try:
        with transaction.atomic():
            approval = approval_decide(approval_id=approval_id, user=user, decision=decision, comment=comment)
            _respond(press, url, {"replace_original": True, **approval_message(approval)}, "decided")
    except ApprovalError as exc:
        if note:
            _note(press, str(exc), url=url)
        return str(exc)
    return None


def _complete(press: Press, user, task_id: int) -> None:
    task = authz.visible(user, Task).filter(pk=task_id).first()
    if task is None:
        return _note(press, "This task is not yours to complete.")
    if task.status != Task.Status.OPEN:
        return _note(press, f"This task is already {task.get_status_display().lower()}.")
    try:
        with transaction.atomic():
            task = task_complete(task_id=task_id, user=user)  # asks authz "complete"
            _respond(press, press.response_url, {"replace_original": True, **task_message(task)}, "completed")
    except authz.Refused as exc:
        _note(press, str(exc))
    return None


def _ask_reason(press: Press, user, approval_id: int) -> None:
    """Rejecting needs a reason: open a modal for it (the inbox's rules are checked first, and again on submit)."""
    approval = authz.visible(user, Approval).filter(pk=approval_id).first()
    problem = _refusal(approval, user)
    if problem:
        return _note(press, problem)
    meta = json.dumps({"approval": approval.pk, "response_url": press.response_url})
    view = {
        "type": "modal",
        "callback_id": REASON_VIEW,
        "private_metadata": meta,
        "title": _text("plain_text", "Reject"),
        "submit": _text("plain_text", "Reject"),
        "close": _text("plain_text", "Cancel"),
        "blocks": [
            {"type": "section", "text": _text("mrkdwn", f"*{_escape(approval.title)}*")},
            {
                "type": "input",
                "block_id": REASON,
                "label": _text("plain_text", "Why do you reject it?"),
                "element": {"type": "plain_text_input", "action_id": REASON, "multiline": True},
            },
        ],
    }
    if not open_view(press.connection, trigger_id=str(press.payload.get("trigger_id") or ""), view=view):
        _note(press, f"Rejecting needs a reason: reject in FAOS, {approval_url(approval)}")
    return None


def _refusal(approval: Approval | None, user) -> str:
    """Why this person may not decide this approval now, or "" (the same rules approval_decide enforces)."""
    if approval is None:
        return "This approval is not yours to decide."
    if approval.status != Approval.Status.PENDING:
        return f"Already {approval.status}."
    if not authz.may(user, "decide", approval):
        return "You started this run, so someone else must approve it."
    if approval.decisions.filter(user=user).exists():
        return "You have already decided on this approval."
    return ""


def _on_reason(press: Press) -> dict | None:
    """The reject modal's submit: reject with the reason, or show the refusal in the modal."""
    view = _dict(press.payload.get("view"))
    try:
        meta = _dict(json.loads(view.get("private_metadata") or "{}"))
    except (ValueError, TypeError):
        return None
    approval_id = _row_id(meta.get("approval"))
    if approval_id is None:
        return None
    url = str(meta.get("response_url") or "")
    url = url if response_url_allowed(url, press.connection) else ""
    values = _dict(_dict(view.get("state")).get("values"))
    reason = str(_dict(_dict(values.get(REASON)).get(REASON)).get("value") or "")
    user = press.user
    if user is None:
        return {"response_action": "errors", "errors": {REASON: "Your Slack account is not linked to a FAOS user."}}
    problem = _decide(press, user, approval_id, "reject", reason, url=url, note=False)
    return {"response_action": "errors", "errors": {REASON: problem}} if problem else None


def _note(press: Press, text: str, *, url: str = "") -> None:
    """A reply only the presser sees (the message itself stays as it is)."""
    _respond(
        press,
        url or press.response_url,
        {"response_type": "ephemeral", "replace_original": False, "text": text},
        "note",
    )


def _respond(press: Press, url: str, message: dict, what: str) -> None:
    if not url:
        logger.info("slack: no response_url to answer the press with (%s)", what)
        return
    payload = {"url": url, "message": message, "connection_id": press.connection.pk}
    outbox_add(kind=outbox.SLACK_RESPOND, payload=payload, key=f"slack:{press.digest[:40]}:{what}")
