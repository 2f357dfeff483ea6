"""factory-boy factories for every model the tests build."""

import factory
from django.contrib.auth import get_user_model

from executions.models import Execution, StepRun
from workflows.models import Step, Trigger, Workflow


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def roles(self, create, names, **kwargs):
        """UserFactory(roles=["Workflow editors"]): put the user in these default groups (the roles)."""
        if create and names:
            self.groups.add(*role_groups(names))


class EditorFactory(UserFactory):
    """A member of the Workflow editors group: builds, runs and activates workflows."""

    roles = factory.PostGeneration(
        lambda user, create, extracted, **kw: user.groups.add(*role_groups(extracted or [EDITORS]))
    )


EDITORS, APPROVERS, VIEWERS = "Workflow editors", "Approvers", "Viewers"


def role_groups(names):
    """The default groups by name (created first: transactional tests flush what the migration made)."""
    from django.contrib.auth.models import Group

    from workflows.groups import ensure_default_groups

    if Group.objects.filter(name__in=names).count() < len(set(names)):
        ensure_default_groups()
    return list(Group.objects.filter(name__in=names))


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    name = factory.Sequence(lambda n: f"Workflow {n}")
    owner = factory.SubFactory(UserFactory)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    workflow = factory.SubFactory(WorkflowFactory)
    position = factory.Sequence(int)
    key = factory.LazyAttribute(lambda s: f"step_{s.position + 1}")
    name = factory.LazyAttribute(lambda s: f"Log {s.position + 1}")
    kind = "action"
    config = factory.LazyAttribute(lambda s: {"action": "log", "inputs": {"message": f"hello {s.position}"}})


class TriggerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trigger

    workflow = factory.SubFactory(WorkflowFactory)
    kind = "manual"


def workflow_with_steps(steps: list[dict], **kwargs) -> Workflow:
    """A draft workflow whose steps are given as dicts of Step fields (position follows the list)."""
    workflow = WorkflowFactory(**kwargs)
    for position, fields in enumerate(steps):
        StepFactory(workflow=workflow, position=position, **fields)
    return workflow


def log_step(key: str, message: str = "hi", **extra) -> dict:
    """A `log` action step as Step fields, named after its key ("send_email" → "Send Email")."""
    name = key.replace("_", " ").title()
    return {"key": key, "name": name, "config": {"action": "log", "inputs": {"message": message}}, **extra}


def active_workflow(steps: list[dict], **kwargs) -> Workflow:
    """A workflow with these steps, activated (its first version), fresh from the database."""
    from workflows.services import workflow_activate

    workflow = workflow_with_steps(steps, **kwargs)
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    return workflow


def loop_run(items: int, *, failed: tuple[int, ...] = ()) -> Execution:
    """A finished run whose loop went over `items` items: the loop step, one step run per item, a last step."""
    from django.utils import timezone

    each = {"key": "each", "name": "Each", "kind": "loop", "config": {"items": "{{trigger.items}}", "steps": ["hi"]}}
    workflow = active_workflow([each, log_step("hi", "hi {{item}}"), log_step("done")])
    values, now = list(range(items)), timezone.now()
    run = Execution.objects.create(
        workflow=workflow, version=workflow.active_version, status="succeeded", input={"items": values}
    )
    output = {"count": items, "items": values, "results": [{"message": f"hi {i}"} for i in values]}
    StepRun.objects.create(execution=run, step_key="each", step_kind="loop", status="succeeded", output=output)
    StepRun.objects.bulk_create(
        StepRun(
            execution=run,
            step_key="hi",
            step_kind="action",
            scope=f"each[{i}]",
            status="failed" if i in failed else "succeeded",
            started_at=now,
            output={"message": f"item-{i}-said-hi"},
            error=f"item {i} broke" if i in failed else "",
        )
        for i in values
    )
    StepRun.objects.create(execution=run, step_key="done", step_kind="action", status="succeeded")
    return run


__all__ = [
    "Execution",
    "StepRun",
    "UserFactory",
    "EditorFactory",
    "WorkflowFactory",
    "StepFactory",
    "TriggerFactory",
    "workflow_with_steps",
    "log_step",
    "active_workflow",
    "loop_run",
]
