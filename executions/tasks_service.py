"""Human tasks and in-admin notifications: create, complete (waking a waiting step), notify people."""

from __future__ import annotations

from datetime import timedelta

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
from .models import Execution, Notification, StepRun, Task
from .runtime.outbox import NOTIFY_TASK, outbox_add
from .services import steprun_wake


def notify(*, users, text: str, url: str = "") -> None:
    """One in-admin notification per person (shown on the admin index and counted in the header)."""
    Notification.objects.bulk_create(Notification(user=user, text=text[:300], url=url) for user in users)


def tasks_for(user) -> QuerySet[Task]:
    """Tasks assigned to this user directly or through a group (everything with the view permission)."""
    return authz.visible(user, Task).select_related("assignee", "assignee_group", "execution__workflow")


@transaction.atomic
def task_create(*, request: dict, execution: Execution | None = None, step_run: StepRun | None = None) -> Task:
    """Create a task from a step's rendered request; idempotent per step run."""
    existing = step_run and Task.objects.filter(step_run=step_run).first()
    if existing:
        return existing
    assignee = _user(request.get("assignee"))
    group = _group(request.get("group"))
    checklist = [{"text": str(item), "done": False} for item in request.get("checklist") or []]
    due = timezone.now() + timedelta(seconds=parse_duration(request["due"])) if request.get("due") else None
    task = Task.objects.create(
        title=str(request["title"])[:300],
        description=str(request.get("description") or ""),
        assignee=assignee,
        assignee_group=group,
        due_at=due,
        checklist=checklist,
        execution=execution,
        step_run=step_run,
    )
    people = [assignee] if assignee else list(group.user_set.filter(is_active=True)) if group else []
    url = reverse("admin:executions_task_change", args=[task.pk])
    notify(users=people, text=f"New task: {task.title}", url=url)
    if any(p.email for p in people) or settings.FAOS_TASK_CHAT:
        # each person's e-mail carries their own Complete link; chat gets a Complete button (notifications.py)
        outbox_add(kind=NOTIFY_TASK, payload={"task_id": task.pk}, key=f"task:{task.pk}:assigned")
    return task


def _user(username):
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise StepError(f"assignee: no active user named {username}")
    return user


def _group(name):
    if not name:
        return None
    group = Group.objects.filter(name=name).first()
    if group is None:
        raise StepError(f"group: no group named {name}")
    return group


@transaction.atomic
def task_complete(*, task_id: int, user) -> Task:
    """Mark a task done (once) and wake the step waiting for it; only whom it is for may."""
    task = Task.objects.select_for_update().get(pk=task_id)
    authz.require(user, "complete", task)
    if task.status != Task.Status.OPEN:
        return task
    task.status, task.completed_at, task.completed_by = Task.Status.DONE, timezone.now(), user
    task.checklist = [{**item, "done": True} for item in task.checklist]
    task.save(update_fields=["status", "completed_at", "completed_by", "checklist"])
    if task.step_run_id:
        steprun_wake(step_run_id=task.step_run_id, waiting_for="task", execution_id=task.execution_id)
    return task


def task_state(task: Task) -> dict:
    return {
        "task_id": task.pk,
        "status": task.status,
        "title": task.title,
        "completed_by": task.completed_by.get_username() if task.completed_by else None,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        "checklist": task.checklist,
    }


class TaskRunner:
    """The engine's TaskPort."""

    def __init__(self, execution: Execution, step_run: StepRun):
        self.execution, self.step_run = execution, step_run

    def open(self, request, *, ctx):
        return task_state(task_create(request=request, execution=self.execution, step_run=self.step_run))

    def status(self, task_id):
        return task_state(Task.objects.get(pk=task_id))
