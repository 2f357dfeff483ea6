"""Approval services: open, decide (once, by an approver), remind, expire. API and admin call these."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from workflows import authz

from .engine.errors import StepError
from .engine.kinds.wait import parse_duration
from .models import Approval, ApprovalDecision, Execution, StepRun
from .runtime.outbox import NOTIFY_APPROVERS, event_add, outbox_add
from .services import steprun_wake
from .tasks_service import notify

logger = logging.getLogger(__name__)


class ApprovalError(Exception):
    """A decision that cannot be made; `status` is the HTTP status an API answers with."""

    def __init__(self, message: str, *, status: int, field: str = "approval"):
        super().__init__(message)
        self.status, self.field = status, field


def approvals_visible_to(user) -> QuerySet[Approval]:
    """Approvals this user may see and decide: named, through a group, or with the decide-any permission."""
    return authz.visible(user, Approval).select_related("execution__workflow")


@transaction.atomic
def approval_open(*, execution: Execution, step_run: StepRun, request: dict) -> Approval:
    """Create the approval a step asks for and notify its approvers; idempotent per step run."""
    existing = Approval.objects.filter(step_run=step_run).first()
    if existing:
        return existing
    users, groups = _people(request.get("approvers") or [], "approvers"), _groups(request.get("groups") or [], "groups")
    now = timezone.now()
    approval = Approval.objects.create(
        execution=execution,
        step_run=step_run,
        title=str(request.get("title"))[:300],
        details=str(request.get("details") or ""),
        amount=_amount(request.get("amount")),
        currency=str(request.get("currency") or "")[:3],
        required_approvals=int(request.get("required") or 1),
        allow_requester=bool(request.get("allow_requester", False)),
        requested_by=authz.actor_of(execution),  # the person behind the run never approves it
        due_at=now + timedelta(seconds=parse_duration(request["due"])) if request.get("due") else None,
        remind_every=timedelta(seconds=parse_duration(request["remind_every"]))
        if request.get("remind_every")
        else None,
    )
    approval.approvers.set(users)
    approval.approver_groups.set(groups)
    approval.escalation_groups.set(_groups(request.get("escalate_to") or [], "escalate_to"))
    if approval.remind_every:
        approval.next_reminder_at = now + approval.remind_every
        approval.save(update_fields=["next_reminder_at"])
    _notice(approval, "opened")
    notify(
        users=approvers_of(approval),
        text=f"Approval needed: {approval.title}",
        url=reverse("admin:executions_approval_change", args=[approval.pk]),
    )
    return approval


def approvers_of(approval: Approval):
    """Everyone who may decide: named approvers and members of the approver groups."""
    return authz.eligible_deciders(approval)


@transaction.atomic
def approval_delegate(*, approval_id: int, user, to_username: str) -> Approval:
    """An approver hands the request to another member of the approver groups; recorded in the history."""
    if approvals_visible_to(user).filter(pk=approval_id).first() is None:
        raise ApprovalError("No such approval.", status=404)
    approval = Approval.objects.select_for_update().get(pk=approval_id)
    if approval.status != Approval.Status.PENDING:
        raise ApprovalError(f"Already {approval.status}.", status=409)
    target = get_user_model().objects.filter(username=to_username, is_active=True).first()
    groups = approval.approver_groups.all()
    if target is None or target.pk == user.pk or not authz.may(target, "decide", approval):
        raise ApprovalError(f"{to_username} may not decide this approval.", status=400, field="to")
    if approval.decisions.filter(user=target).exists():
        raise ApprovalError(f"{to_username} has already decided this approval.", status=400, field="to")
    entry = {
        "at": timezone.now().isoformat(),
        "action": "delegated",
        "by": user.get_username(),
        "to": target.get_username(),
        "groups_before": [g.name for g in groups],
    }
    approval.approvers.set([target])  # reassigned: the target alone decides now
    approval.approver_groups.clear()
    approval.history = [*approval.history, entry]
    approval.save(update_fields=["history"])
    notify(
        users=[target],
        text=f"{user.get_username()} passed you an approval: {approval.title}",
        url=reverse("admin:executions_approval_change", args=[approval.pk]),
    )
    return approval


def _people(usernames: list, field: str):
    User = get_user_model()
    found = list(User.objects.filter(username__in=usernames, is_active=True))
    missing = sorted(set(usernames) - {u.get_username() for u in found})
    if missing:
        raise StepError(f"{field}: no active user named {', '.join(missing)}")
    return found


def _groups(names: list, field: str):
    found = list(Group.objects.filter(name__in=names))
    missing = sorted(set(names) - {g.name for g in found})
    if missing:
        raise StepError(f"{field}: no group named {', '.join(missing)}")
    return found


def _amount(value):
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise StepError(f"amount: '{value}' is not a number")


def next_wake(approval: Approval) -> datetime | None:
    """When the waiting step should look again: the next reminder or the due time, whichever is first."""
    times = [t for t in (approval.next_reminder_at, approval.due_at) if t]
    return min(times) if times else None


@transaction.atomic
def approval_decide(*, approval_id: int, user, decision: str, comment: str = "") -> Approval:
    """Record one approver's decision; the approval is decided once, whoever clicks at the same time."""
    approval = approvals_visible_to(user).filter(pk=approval_id).first()
    if approval is None:
        raise ApprovalError("No such approval.", status=404)
    approval = Approval.objects.select_for_update().get(pk=approval.pk)  # serialises simultaneous clicks
    _check_may_decide(approval, user, decision, comment)
    ApprovalDecision.objects.create(approval=approval, user=user, decision=decision, comment=comment)
    approvals = approval.decisions.filter(decision=ApprovalDecision.Decision.APPROVE).count()
    if decision == ApprovalDecision.Decision.REJECT:
        _close(approval, Approval.Status.REJECTED, comment)
    elif approvals >= approval.required_approvals:
        _close(approval, Approval.Status.APPROVED, comment)
    return approval


def _check_may_decide(approval: Approval, user, decision: str, comment: str) -> None:
    if approval.status != Approval.Status.PENDING:
        raise ApprovalError(f"Already {approval.status}.", status=409)
    if decision not in ApprovalDecision.Decision.values:
        raise ApprovalError("Decide approve or reject.", status=400, field="decision")
    if decision == ApprovalDecision.Decision.REJECT and not comment.strip():
        raise ApprovalError("Say why you reject it.", status=400, field="comment")
    if not authz.may(user, "decide", approval):  # it is visible to them, so only the requester rule can refuse
        raise ApprovalError("You started this run, so someone else must approve it.", status=403)
    if approval.decisions.filter(user=user).exists():
        raise ApprovalError("You have already decided on this approval.", status=409)


def _close(approval: Approval, status: str, comment: str = "") -> None:
    approval.status, approval.decided_at, approval.comment = status, timezone.now(), comment
    approval.save(update_fields=["status", "decided_at", "comment"])
    steprun_wake(step_run_id=approval.step_run_id, waiting_for="approval", execution_id=approval.execution_id)
    data = {"approval_id": approval.pk, "status": status, "execution_id": approval.execution_id}
    key = f"approval:{approval.pk}:decided"
    event_add(type="approval.decided", data=data, key=key, about=approval.execution.workflow)


def approval_state(approval: Approval) -> dict:
    """What the approval step returns to later steps."""
    decisions = [
        {"user": d.user.get_username(), "decision": d.decision, "comment": d.comment, "at": d.created_at.isoformat()}
        for d in approval.decisions.select_related("user")
    ]
    return {
        "approval_id": approval.pk,
        "status": approval.status,
        "decision": approval.status,
        "deciders": [d["user"] for d in decisions],
        "decisions": decisions,
        "comment": approval.comment,
        "amount": float(approval.amount) if approval.amount is not None else None,
    }


@transaction.atomic
def approval_remind_or_expire(*, approval_id: int) -> tuple[str, datetime | None]:
    """Called when the waiting step wakes undecided: expire past due (escalating), else send a reminder."""
    approval = Approval.objects.select_for_update().get(pk=approval_id)
    now = timezone.now()
    if approval.status != Approval.Status.PENDING:
        return approval.status, None
    if approval.due_at and now >= approval.due_at:
        approval.status, approval.decided_at = Approval.Status.EXPIRED, now
        approval.save(update_fields=["status", "decided_at"])
        _notice(approval, "expired")
        return approval.status, None
    if approval.next_reminder_at and now >= approval.next_reminder_at:
        approval.reminders_sent += 1
        approval.next_reminder_at = now + approval.remind_every
        approval.save(update_fields=["reminders_sent", "next_reminder_at"])
        _notice(approval, "reminder", approval.reminders_sent)
    return approval.status, next_wake(approval)


def _notice(approval: Approval, reason: str, number: int = 0) -> None:
    """E-mail and chat notice to the approvers, as an outbox row of this transaction (sent after the commit)."""
    key = f"approval:{approval.pk}:{reason}" + (f":{number}" if number else "")
    outbox_add(kind=NOTIFY_APPROVERS, payload={"approval_id": approval.pk, "reason": reason}, key=key)


def approval_url(approval: Approval) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("admin:executions_approval_change", args=[approval.pk])


class ApprovalRunner:
    """The engine's ApprovalPort."""

    def __init__(self, execution: Execution, step_run: StepRun):
        self.execution, self.step_run = execution, step_run

    def open(self, request, *, ctx):
        approval = approval_open(execution=self.execution, step_run=self.step_run, request=request)
        return approval.pk, next_wake(approval)

    def status(self, approval_id):
        return approval_state(Approval.objects.get(pk=approval_id))

    def remind_or_expire(self, approval_id):
        return approval_remind_or_expire(approval_id=approval_id)
