"""Notices to people about runs: failure notices to the workflow's owner; approval and task notices by e-mail
(each person's own one-click decision links, executions/decision_links.py) and to chat (Slack's with buttons,
executions/slack.py). Each is an outbox row's sender."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection, send_mail
from django.db.models import Q
from django.urls import reverse

from workflows import authz

from .approvals import approval_url
from .decision_links import links_for
from .engine.errors import StepError
from .models import Approval, Execution, Task
from .runtime import outbox
from .slack import approval_message, task_message

logger = logging.getLogger(__name__)


def execution_url(execution: Execution) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("admin:executions_execution_change", args=[execution.pk])


def notify_owner_of_failure(*, execution_id: int, step_error: str = "") -> bool:
    """E-mail the owner that a run (or one of its steps) failed; False when there is nobody to tell."""
    execution = Execution.objects.select_related("workflow__owner").get(pk=execution_id)
    owner = execution.workflow.owner
    if owner is None or not owner.email:
        logger.warning("execution %s failed but workflow %s has no owner e-mail", execution_id, execution.workflow_id)
        return False
    error = step_error or execution.error
    send_mail(
        subject=f"[FAOS] {execution.workflow.name}: run #{execution.pk} {execution.get_status_display().lower()}",
        message=f"{error}\n\nOpen the run: {execution_url(execution)}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[owner.email],
        fail_silently=False,  # the outbox retries a failed send
    )
    return True


@outbox.sender(outbox.OWNER_FAILURE)
def _send_owner_failure(*, execution_id: int, step_error: str = "") -> None:
    if not Execution.objects.filter(pk=execution_id).exists():
        logger.info("outbox: the failure notice of deleted run %s is dropped", execution_id)
        return
    notify_owner_of_failure(execution_id=execution_id, step_error=step_error)


def _mail(subject: str, body: str, to: str) -> EmailMessage:
    return EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])


def _send_all(messages: list[EmailMessage]) -> int:
    """One SMTP connection for all; a failure raises, so the outbox tries the notice again."""
    if messages:
        get_connection(fail_silently=False).send_messages(messages)
    return len(messages)


def approval_emails(approval, *, subject: str, body: str, escalation: bool) -> list[EmailMessage]:
    """One e-mail per person, each with their own one-click links while they may decide (never the requester, nor
    someone who has decided already)."""
    messages, decided = [], set(approval.decisions.values_list("user_id", flat=True))
    for user in recipient_users(approval, escalation=escalation):
        text = body
        may = user.pk not in decided and authz.may(user, "decide", approval)
        if not escalation and approval.status == "pending" and may:
            links = links_for(approval, user=user)
            text += (
                f"\nApprove: {links['approve']}\nReject (asks for a reason): {links['reject']}\n\n"
                f"The links are for you alone, work once and expire in {settings.FAOS_DECISION_LINK_HOURS:g} hours; "
                "each opens a page where you confirm.\n"
            )
        messages.append(_mail(subject, text, user.email))
    return messages


def notify_task(*, task_id: int) -> int:
    """E-mail each person a task is for (with their own Complete link) and post it to FAOS_TASK_CHAT."""
    task = Task.objects.select_related("assignee", "assignee_group").get(pk=task_id)
    group = task.assignee_group
    people = [task.assignee] if task.assignee else list(group.user_set.all()) if group else []
    url = settings.SITE_URL.rstrip("/") + reverse("admin:executions_task_change", args=[task.pk])
    messages = []
    for user in [p for p in people if p.is_active and p.email]:
        body = f"{task.description}\n\nOpen it: {url}\n"
        if task.status == Task.Status.OPEN:
            link = links_for(task, user=user)["complete"]
            body += f"Mark it done: {link} (for you alone, once; it asks you to confirm)\n"
        messages.append(_mail(f"[FAOS] Task: {task.title}", body, user.email))
    sent = _send_all(messages)
    message = task_message(task, "New task")
    post_to_chat(message["text"], blocks=message["blocks"], targets=settings.FAOS_TASK_CHAT)
    return sent


@outbox.sender(outbox.NOTIFY_TASK)
def _send_task_notice(*, task_id: int) -> None:
    if not Task.objects.filter(pk=task_id).exists():
        logger.info("outbox: the notice of deleted task %s is dropped", task_id)
        return
    notify_task(task_id=task_id)


def recipient_users(approval: Approval, *, escalation: bool = False):
    """Who a notice goes to (active, with an e-mail): the approvers, or on expiry the escalation groups."""
    User = get_user_model()
    groups = approval.escalation_groups.all() if escalation else approval.approver_groups.all()
    users = User.objects.filter(Q(groups__in=groups) | Q(pk__in=[] if escalation else approval.approvers.all()))
    return users.filter(is_active=True).exclude(email="").distinct().order_by("email")


def recipients(approval: Approval, *, escalation: bool = False) -> list[str]:
    return sorted({u.email for u in recipient_users(approval, escalation=escalation)})


SUBJECTS = {"opened": "Approval needed", "reminder": "Reminder: approval needed", "expired": "Approval expired"}


def notify_approvers(*, approval_id: int, reason: str) -> int:
    """E-mail each approver (on expiry the escalation groups) a link to the inbox and, while it is pending,
    their own one-click Approve / Reject links; post it to chat with buttons. Returns the e-mails sent."""
    approval = Approval.objects.select_related("execution__workflow").get(pk=approval_id)
    escalation = reason == "expired" and bool(recipients(approval, escalation=True))
    amount = f" ({approval.amount} {approval.currency})".rstrip(" ()") + ")" if approval.amount is not None else ""
    body = (
        f"{approval.title}{amount if approval.amount is not None else ''}\n\n{approval.details}\n\n"
        f"Workflow: {approval.execution.workflow.name}, run #{approval.execution_id}\n"
        f"Decide here: {approval_url(approval)}\n"
    )
    subject = f"[FAOS] {SUBJECTS[reason]}: {approval.title}"
    sent = _send_all(approval_emails(approval, subject=subject, body=body, escalation=escalation))
    message = approval_message(approval, SUBJECTS[reason])
    post_to_chat(message["text"], blocks=message["blocks"])
    return sent


def post_to_chat(text: str, *, blocks: list | None = None, targets: list | None = None) -> None:
    """Also tell chat channels (FAOS_APPROVAL_CHAT, e.g. "slack:#approvals") through their connectors; Slack
    gets the blocks too (its buttons decide, see executions/slack.py)."""
    from integrations.actions import ActionContext, run_action
    from integrations.services import connection_credentials

    for target in settings.FAOS_APPROVAL_CHAT if targets is None else targets:
        service, _, channel = target.partition(":")
        ctx = ActionContext(
            idempotency_key="",
            timeout=10,
            credentials=lambda svc, name: connection_credentials(service=svc, name=name, test_mode=False),
        )
        inputs = {"channel": channel, "text": text} if service == "slack" else {"text": text}
        if service == "slack" and blocks:
            inputs["blocks"] = blocks
        try:
            run_action(f"{service}.post_message", inputs, ctx)
        except StepError as exc:  # a chat outage must not block the approval itself
            logger.warning("approval notice to %s failed: %s", target, exc)


@outbox.sender(outbox.NOTIFY_APPROVERS)
def _send_approval_notice(*, approval_id: int, reason: str) -> None:
    if not Approval.objects.filter(pk=approval_id).exists():
        logger.info("outbox: the notice of deleted approval %s is dropped", approval_id)
        return
    notify_approvers(approval_id=approval_id, reason=reason)
