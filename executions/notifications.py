"""E-mails to people about runs: failure notices to the workflow's owner, approval and task notices with their
one-click decision links (executions/decision_links.py)."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection, send_mail
from django.urls import reverse

from . import outbox
from .models import Execution

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
    from .models import Execution

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
    from workflows import authz

    from .approvals import recipient_users
    from .decision_links import links_for

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
    from .approvals import post_to_chat
    from .decision_links import links_for
    from .models import Task
    from .slack import task_message

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
    from .models import Task

    if not Task.objects.filter(pk=task_id).exists():
        logger.info("outbox: the notice of deleted task %s is dropped", task_id)
        return
    notify_task(task_id=task_id)
