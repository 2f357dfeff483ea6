"""Who may do what: the one place the admin, the API, commands and the engine ask.

Roles are Django groups mapped to model permissions (workflows.groups); object rules add what a row says:
a workflow's owner may see it, a connection names the groups that may use it, an approval names who may
decide it, a task whom it is for. `user=None` is the system itself (a run with nobody behind it).

    may(user, "run", workflow)            # -> bool
    require(user, "use", connection)      # raises Refused naming the object
    visible(user, Workflow)               # -> the queryset this user may see
"""

from __future__ import annotations

from collections.abc import Callable

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet

SYSTEM_EVENT_PREFIXES = ("execution.", "approval.", "task.", "workflow.", "system.")


class Refused(PermissionDenied):
    """A person may not do this; the message names the action and the object."""


def _perm(codename: str) -> Callable:
    def rule(user, obj) -> bool:
        return user.has_perm(codename)

    return rule


def _workflow_of(obj):
    """The workflow a definition part or a run belongs to (the object rules of workflows apply)."""
    from executions.models import Execution, StepRun

    if isinstance(obj, StepRun):
        return obj.execution.workflow
    if isinstance(obj, Execution):
        return obj.workflow
    return getattr(obj, "workflow", obj)


def _owner_or(codename: str) -> Callable:
    def rule(user, obj) -> bool:
        if user.has_perm(codename):
            return True
        if not isinstance(obj, Model):  # the kind: visible to owners of at least one workflow
            return user.workflows.exists()
        workflow = _workflow_of(obj)
        return workflow.owner_id is not None and workflow.owner_id == user.pk

    return rule


def _workflow_right(codename: str) -> Callable:
    """A right on a workflow's runs or parts: the model permission, on a workflow this user may see."""

    def rule(user, obj) -> bool:
        if not user.has_perm(codename):
            return False
        return not isinstance(obj, Model) or may(user, "view", _workflow_of(obj))

    return rule


def _replay(user, workflow) -> bool:
    """Replaying past runs through the draft is an editor's test: change the workflow and run it."""
    return user.has_perm("workflows.run_workflow") and _workflow_right("workflows.change_workflow")(user, workflow)


def _use_connection(user, connection) -> bool:
    if not user.has_perm("integrations.use_connection"):
        return False
    if not isinstance(connection, Model):
        return True
    allowed = list(connection.allowed_groups.values_list("pk", flat=True))
    return not allowed or user.groups.filter(pk__in=allowed).exists()


def _see_approval(user, approval) -> bool:
    if not isinstance(approval, Model):
        return True  # the inbox is open to staff; each row says who decides it
    return visible(user, apps.get_model("executions", "Approval")).filter(pk=approval.pk).exists()


def _not_requester(user, approval) -> bool:
    """Nobody approves their own request, superusers included (unless the approval allows it)."""
    if not isinstance(approval, Model) or approval.allow_requester:
        return True
    return approval.requested_by_id is None or approval.requested_by_id != user.pk


def _may_activate_requested(user, request) -> bool:
    """Deciding an activation request takes the right to activate its workflow."""
    if not isinstance(request, Model):
        return user.has_perm("workflows.activate_workflow")
    return may(user, "activate", request.workflow)


def _requester(user, request) -> bool:
    """Only who asked withdraws a request (superusers too); the others approve or reject it."""
    if not isinstance(request, Model):
        return user.has_perm("workflows.activate_workflow")
    return request.requested_by_id == user.pk


def _second_pair_of_eyes(user, request) -> bool:
    """Four eyes: not who asked, not the draft's last author, not the version's maker; superusers included."""
    if not isinstance(request, Model):
        return True
    return user.pk not in {request.requested_by_id, request.last_author_id, request.version.created_by_id}


def _task(user, task) -> bool:
    if not isinstance(task, Model):
        return True
    return visible(user, apps.get_model("executions", "Task")).filter(pk=task.pk).exists()


def _own_notification(user, notification) -> bool:
    return not isinstance(notification, Model) or notification.user_id == user.pk


def _emit(user, event_type) -> bool:
    """Anyone signed in may post an event, but not one of the types the system itself emits."""
    return not str(event_type or "").startswith(SYSTEM_EVENT_PREFIXES)


RULES: dict[tuple[str, str], Callable] = {
    ("workflows.workflow", "view"): _owner_or("workflows.view_workflow"),
    ("workflows.workflow", "add"): _perm("workflows.add_workflow"),
    ("workflows.workflow", "change"): _workflow_right("workflows.change_workflow"),
    ("workflows.workflow", "delete"): _workflow_right("workflows.delete_workflow"),
    ("workflows.workflow", "run"): _workflow_right("workflows.run_workflow"),
    ("workflows.workflow", "activate"): _workflow_right("workflows.activate_workflow"),
    ("workflows.workflow", "replay"): _replay,
    ("workflows.step", "view"): _owner_or("workflows.view_workflow"),
    ("workflows.trigger", "view"): _owner_or("workflows.view_workflow"),
    ("workflows.trigger", "add"): _workflow_right("workflows.change_workflow"),
    ("workflows.trigger", "change"): _workflow_right("workflows.change_workflow"),
    ("workflows.trigger", "delete"): _workflow_right("workflows.change_workflow"),
    ("workflows.workflowversion", "view"): _owner_or("workflows.view_workflow"),
    ("workflows.workflowversion", "activate"): _workflow_right("workflows.activate_workflow"),
    ("workflows.activationrequest", "view"): _owner_or("workflows.view_workflow"),
    ("workflows.activationrequest", "decide"): _may_activate_requested,
    ("workflows.activationrequest", "withdraw"): _requester,
    ("workflows.workflowtemplate", "view"): _perm("workflows.view_workflowtemplate"),
    ("workflows.workflowtemplate", "use"): _perm("workflows.add_workflow"),
    ("workflows.agent", "view"): _perm("workflows.view_agent"),
    ("workflows.agent", "add"): _perm("workflows.add_agent"),
    ("workflows.agent", "change"): _perm("workflows.change_agent"),
    ("workflows.agent", "delete"): _perm("workflows.delete_agent"),
    ("replays.replay", "view"): _owner_or("workflows.view_workflow"),  # its report shows what its runs show
    ("executions.execution", "view"): _owner_or("workflows.view_workflow"),
    ("executions.execution", "run"): _workflow_right("workflows.run_workflow"),
    ("executions.execution", "delete"): _workflow_right("executions.delete_execution"),
    ("executions.steprun", "view"): _owner_or("workflows.view_workflow"),
    ("executions.dashboard", "view"): _perm("workflows.view_workflow"),  # every workflow's numbers
    ("executions.approval", "view"): _see_approval,
    ("executions.approval", "decide"): _see_approval,
    ("executions.task", "view"): _task,
    ("executions.task", "complete"): _task,
    ("executions.notification", "view"): _own_notification,
    ("executions.notification", "delete"): _own_notification,
    ("executions.event", "emit"): lambda user, obj: True,  # the type is checked by may_emit
    ("integrations.connection", "view"): _perm("integrations.view_connection"),
    ("integrations.connection", "add"): _perm("integrations.add_connection"),
    ("integrations.connection", "change"): _perm("integrations.change_connection"),
    ("integrations.connection", "delete"): _perm("integrations.delete_connection"),
    ("integrations.connection", "use"): _use_connection,
    ("integrations.connector", "view"): lambda user, obj: True,  # the public catalogue of services
    ("integrations.knowledgearticle", "view"): _perm("integrations.view_knowledgearticle"),
    ("integrations.knowledgearticle", "add"): _perm("integrations.add_knowledgearticle"),
    ("integrations.knowledgearticle", "change"): _perm("integrations.change_knowledgearticle"),
    ("integrations.knowledgearticle", "delete"): _perm("integrations.delete_knowledgearticle"),
    ("auth.user", "add"): _perm("auth.add_user"),  # people and their groups (faos_user --as)
    ("auth.user", "change"): _perm("auth.change_user"),
    ("authtoken.token", "add"): _perm("authtoken.add_token"),  # API tokens (faos_token --as)
    ("authtoken.token", "delete"): _perm("authtoken.delete_token"),
}

# Object rules that bind everyone, superusers included.
LIMITS: dict[tuple[str, str], Callable] = {
    ("executions.approval", "decide"): _not_requester,
    ("workflows.activationrequest", "decide"): _second_pair_of_eyes,
}


def _label(target) -> str:
    if isinstance(target, str):
        return target
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}"


def may(user, action: str, target) -> bool:
    """Whether this person may do `action` to `target` (a row, a model class, or "app.model" for a kind)."""
    if user is None:
        return True  # the system acting for nobody: a run with no person behind it
    if not user.is_active or not user.is_authenticated:
        return False
    rule = RULES.get((_label(target), action))
    if rule is None:
        return False  # no rule, no right: a new action is refused until it is given one
    obj = target if isinstance(target, Model) else None
    limit = LIMITS.get((_label(target), action))
    if limit is not None and not limit(user, obj):
        return False
    return user.is_superuser or rule(user, obj)


def may_emit(user, event_type: str) -> bool:
    """Whether this person may post an event of this type (the system's own types are reserved)."""
    return user is None or (user.is_authenticated and user.is_active and _emit(user, event_type))


def require(user, action: str, target) -> None:
    """Raise Refused, naming the action and the object, unless `may`."""
    if not may(user, action, target):
        who = user.get_username() if user is not None else "nobody"
        what = f"{target._meta.verbose_name} '{target}'" if isinstance(target, Model) else _label(target)
        raise Refused(f"permission error: {who} may not {action} {what}")


def visible(user, model) -> QuerySet:
    """The rows of `model` this person may see (404 for the others)."""
    model = apps.get_model(model) if isinstance(model, str) else model
    return scope(user, model._default_manager.all())


def scope(user, qs: QuerySet) -> QuerySet:
    """`qs` narrowed to the rows this person may see."""
    label = _label(qs.model)
    if user is None or user.is_superuser:
        return qs
    if not user.is_active or not user.is_authenticated:
        return qs.none()
    narrow = VISIBLE.get(label)
    if narrow is None:
        return qs if may(user, "view", qs.model) else qs.none()
    return narrow(user, qs)


def _workflow_scope(prefix: str) -> Callable:
    def scope(user, qs):
        if user.has_perm("workflows.view_workflow"):
            return qs
        return qs.filter(**{f"{prefix}owner": user})

    return scope


def _approval_scope(user, qs):
    if user.has_perm("executions.decide_any_approval"):
        return qs
    return qs.filter(Q(approvers=user) | Q(approver_groups__in=user.groups.all())).distinct()


def _task_scope(user, qs):
    return qs.filter(Q(assignee=user) | Q(assignee_group__in=user.groups.all()))


VISIBLE: dict[str, Callable] = {
    "workflows.workflow": _workflow_scope(""),
    "workflows.step": _workflow_scope("workflow__"),
    "workflows.trigger": _workflow_scope("workflow__"),
    "workflows.workflowversion": _workflow_scope("workflow__"),
    "workflows.activationrequest": _workflow_scope("workflow__"),
    "executions.execution": _workflow_scope("workflow__"),
    "replays.replay": _workflow_scope("workflow__"),
    "executions.steprun": _workflow_scope("execution__workflow__"),
    "executions.approval": _approval_scope,
    "executions.task": _task_scope,
    "executions.notification": lambda user, qs: qs.filter(user=user),
}


def eligible_deciders(approval) -> QuerySet:
    """Everyone who may decide this approval: named approvers and members of its groups (active users)."""
    from django.contrib.auth import get_user_model

    named = approval.approvers.values("pk")
    return (
        get_user_model()
        .objects.filter(Q(pk__in=named) | Q(groups__in=approval.approver_groups.all()), is_active=True)
        .distinct()
    )


def actor_of(execution):
    """The person a run acts for: who started it, else the workflow's activator (webhook, schedule, event)."""
    return execution.started_by or (execution.workflow.activated_by if execution.workflow_id else None)
