"""Four-eyes activation: a version that needs review goes live only when a second editor approves it.

A workflow needs review when it asks for it (`activation_review`, on the workflow, the version or the version
live now, so turning the setting off is itself reviewed) or when a step uses a connection marked money or
sensitive. Activating such a workflow freezes the version and opens an ActivationRequest; an editor who is
neither the requester, the draft's last author nor the version's maker approves (it goes live) or rejects it.
Approving a stale request (the draft edited since) activates exactly the reviewed version, never the draft.
"""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from . import authz
from .audit import audit
from .diff import version_diff
from .models import ActivationRequest, Trigger, Workflow, WorkflowVersion
from .services import (
    WorkflowInvalid,
    connections_refused,
    connections_used,
    definition_checksum,
    definition_validate,
    trigger_secret_problems,
    version_checked,
    version_go_live,
    workflow_definition,
)

AUDIT_PREFIX = "Activation"  # history entries of this flow; they are not edits of the draft (see last_author_of)
DECISIONS = ("approve", "reject", "withdraw")


class ReviewRequired(ValidationError):
    """This version needs a second editor's approval: go through activation_start, which asks for it."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        text = f"A second editor must approve this activation: {'; '.join(reasons)}."
        super().__init__({"activation_review": [text]})


class ActivationError(Exception):
    """A decision that cannot be made; `status` is the HTTP status an API answers with, `field` what it names."""

    def __init__(self, message: str, *, status: int, field: str = "activation"):
        super().__init__(message)
        self.status, self.field = status, field


def review_reasons(*, workflow: Workflow, version: WorkflowVersion) -> list[str]:
    """Why activating `version` needs a second editor; empty when it may go live at once (or already is live)."""
    if version.pk == workflow.active_version_id:
        return []  # resuming what is live already changes nothing
    active = workflow.active_version.definition if workflow.active_version_id else {}
    reasons = []
    if workflow.activation_review or version.definition.get("activation_review") or active.get("activation_review"):
        reasons.append("the workflow asks for a second editor's approval")
    return reasons + sensitive_reasons(definition=version.definition)


def sensitive_reasons(*, definition: dict) -> list[str]:
    """A reason per step using a connection marked money or sensitive (or one it may pick at run time)."""
    from integrations.models import Connection

    reasons = []
    for key, found, service, named in connections_used(definition=definition):
        if found is not None and found.needs_review:
            reasons.append(f"step '{key}' uses {found}, marked {found.get_sensitivity_display().lower()}")
        elif not named and Connection.objects.filter(service=service).exclude(sensitivity="normal").exists():
            reasons.append(f"step '{key}' picks its {service} connection at run time and one is marked sensitive")
    return reasons


def last_author_of(*, workflow: Workflow, version: WorkflowVersion):
    """Who last edited the draft this version froze (its history, admin or API), else who made the version.

    An older version (a rollback) was authored before the draft's later edits: its maker is its author.
    """
    if version.checksum != definition_checksum(workflow_definition(workflow=workflow)):
        return version.created_by
    types = ContentType.objects.get_for_models(Workflow, Trigger)
    triggers = [str(pk) for pk in workflow.triggers.values_list("pk", flat=True)]
    entries = LogEntry.objects.filter(action_flag__in=(ADDITION, CHANGE), user__isnull=False).exclude(
        change_message__startswith=AUDIT_PREFIX
    )
    entry = (
        (
            entries.filter(content_type=types[Workflow], object_id=str(workflow.pk))
            | entries.filter(content_type=types[Trigger], object_id__in=triggers)
        )
        .select_related("user")
        .order_by("-action_time", "-id")
        .first()
    )
    return entry.user if entry else version.created_by


@transaction.atomic
def activation_start(
    *, workflow: Workflow, user=None, version: WorkflowVersion | None = None
) -> WorkflowVersion | ActivationRequest:
    """Activate now (the version) or, when it needs review, freeze it and ask a second editor (the request)."""
    authz.require(user, "activate", workflow)
    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()  # one activation or request at a time
    workflow.refresh_from_db(fields=["active_version", "status", "activation_review"])
    version = version_checked(workflow=workflow, user=user, version=version)
    reasons = review_reasons(workflow=workflow, version=version)
    if not reasons:
        return version_go_live(workflow=workflow, version=version, user=user)
    pending = workflow.activation_requests.filter(status=ActivationRequest.Status.PENDING).first()
    if pending and pending.version_id == version.pk and pending.requested_by_id == getattr(user, "pk", None):
        return pending  # asked twice: the same request
    if pending:
        _close(pending, ActivationRequest.Status.SUPERSEDED, by=None, comment="A newer request replaced it.")
    request = ActivationRequest.objects.create(
        workflow=workflow,
        version=version,
        base_version=workflow.active_version,
        reasons=reasons,
        requested_by=user,
        last_author=last_author_of(workflow=workflow, version=version),
    )
    if user is not None:
        audit(user=user, obj=workflow, action="change", message=f"{AUDIT_PREFIX} of v{version.number} requested.")
    _notify(request, _deciders(request), "Activation to approve")
    return request


@transaction.atomic
def activation_decide(*, request_id: int, user, decision: str, comment: str = "") -> ActivationRequest:
    """Approve (the version goes live), reject (a comment is required) or withdraw (the requester) once."""
    if decision not in DECISIONS:
        raise ActivationError(f"Choose one of {', '.join(DECISIONS)}.", status=400, field="decision")
    comment = (comment or "").strip()
    if decision == "reject" and not comment:
        raise ActivationError("Say why you reject it.", status=400, field="comment")
    found = ActivationRequest.objects.filter(pk=request_id).values_list("workflow_id", flat=True).first()
    if found is None:
        raise ActivationError("No such activation request.", status=404)
    # The workflow first, then the request: the order activation_start takes them in, so no deadlock.
    workflow = Workflow.objects.select_for_update(of=("self",)).select_related("active_version").get(pk=found)
    locked = ActivationRequest.objects.select_for_update(of=("self",)).select_related("version", "requested_by")
    request = locked.get(pk=request_id)
    if request.status != ActivationRequest.Status.PENDING:
        raise ActivationError(f"This request is already {request.get_status_display().lower()}.", status=409)
    right = "withdraw" if decision == "withdraw" else "decide"
    if not authz.may(user, right, request):
        raise ActivationError(refusal(request, user, right), status=403)
    if decision == "approve":
        _go_live(workflow, request, user)
    status = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn"}[decision]
    _close(request, status, by=user, comment=comment)
    _record(workflow, request, user)
    return request


def _go_live(workflow: Workflow, request: ActivationRequest, approver) -> None:
    """The reviewed version, checked again now, goes live acting for the requester (who asked for it)."""
    version, requester = request.version, request.requested_by
    if requester is not None and not authz.may(requester, "activate", workflow):
        raise ActivationError(f"{requester.get_username()} may no longer activate this workflow.", status=409)
    problems = definition_validate(definition=version.definition) + trigger_secret_problems(workflow=workflow)
    problems += connections_refused(definition=version.definition, user=requester)
    if problems:
        raise WorkflowInvalid(problems)
    request.status = ActivationRequest.Status.APPROVED  # not superseded by its own going live
    request.save(update_fields=["status"])
    version_go_live(workflow=workflow, version=version, user=requester)


def _close(request: ActivationRequest, status: str, *, by, comment: str) -> None:
    request.status, request.decided_by, request.comment = status, by, comment
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "comment", "decided_at"])


def _record(workflow: Workflow, request: ActivationRequest, user) -> None:
    """History says who asked and who decided; the requester hears of it."""
    asked = request.requested_by.get_username() if request.requested_by else "the system"
    what = f"{AUDIT_PREFIX} of v{request.version.number} (requested by {asked}) {request.status} by {user}"
    said = f": {request.comment}" if request.comment else ""
    audit(user=user, obj=workflow, action="change", message=f"{what}{said}.")
    if request.requested_by_id and request.requested_by_id != user.pk:
        _notify(request, [request.requested_by], f"Activation {request.status}")


def _deciders(request: ActivationRequest) -> list:
    """Active staff who may approve this request (told of it in the admin)."""
    from django.contrib.auth import get_user_model

    backend = "django.contrib.auth.backends.ModelBackend"  # groups and user permissions, as has_perm reads them
    people = get_user_model().objects.with_perm("workflows.activate_workflow", backend=backend).filter(is_staff=True)
    return [user for user in people if authz.may(user, "decide", request)]


def _notify(request: ActivationRequest, users, text: str) -> None:
    from executions.tasks_service import notify

    url = reverse("admin:workflows_activationrequest_change", args=[request.pk])
    notify(users=users, text=f"{text}: {request.workflow.name} v{request.version.number}", url=url)


def refusal(request: ActivationRequest, user, right: str = "decide") -> str:
    """Why this person may not decide (or withdraw) this request, in words."""
    if right == "withdraw":
        return "Only the person who asked may withdraw it; others approve or reject."
    if user.pk == request.requested_by_id:
        return "You asked for this activation: another editor must approve it."
    if user.pk in (request.last_author_id, request.version.created_by_id):
        return "You last changed this version: another editor must approve it."
    return f"permission error: {user.get_username()} may not activate '{request.workflow.name}'."


def activations_visible_to(user) -> QuerySet[ActivationRequest]:
    return authz.visible(user, ActivationRequest).select_related(
        "workflow", "version", "base_version", "requested_by", "last_author", "decided_by"
    )


def activation_is_stale(request: ActivationRequest) -> bool:
    """The draft changed after the request: approving still activates the reviewed version, not the draft."""
    return request.version.checksum != definition_checksum(workflow_definition(workflow=request.workflow))


def activation_diff(request: ActivationRequest) -> dict:
    """What goes live: the reviewed version against the version live when it was asked for (none: all new)."""
    new = request.version.definition
    base = request.base_version.definition if request.base_version_id else {**new, "steps": [], "triggers": []}
    return version_diff(base, new)


def activation_replay_report(request: ActivationRequest) -> dict | None:
    """The newest replay of past runs through the requested version (Replay history), summarised; None when the
    version was never replayed."""
    from replays.services import replay_latest_for, replay_progress  # replays builds on workflows, not back

    replay = replay_latest_for(workflow=request.workflow, version=request.version)
    if replay is None:
        return None
    url = reverse("admin:workflows_workflow_replayreport", args=[request.workflow_id, replay.pk])
    return {"id": replay.pk, "status": replay.status, "url": url, **replay_progress(replay)}
