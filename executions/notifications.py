"""E-mails to people about runs: failure notices to the workflow's owner."""

import logging

from django.conf import settings
from django.core.mail import send_mail
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
