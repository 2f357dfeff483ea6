"""The engine's ports on the Django side: events, sub-workflows and actions, for one run's steps."""

from __future__ import annotations

from integrations import actions as action_registry
from integrations.services import connection_credentials
from workflows import authz

from ..engine.errors import StepError
from ..models import Event, Execution, StepRun


class EventFinder:
    """The engine's EventPort: events of a type emitted since the run was created, oldest first."""

    def __init__(self, execution: Execution):
        self.execution = execution

    def since_start(self, event_type: str) -> list[dict]:
        """Only events that may reach this run: posted by someone who may run it, or about what its person sees."""
        from ..events import audience

        rows = Event.objects.filter(type=event_type, created_at__gte=self.execution.created_at).order_by("id")[:100]
        actor = authz.actor_of(self.execution)
        rows = [e for e in rows.select_related("sender", "about") if audience(e.sender, e.about)(actor, self.execution)]
        return [event.as_variable() for event in rows]


class SubWorkflows:
    """The engine's WorkflowPort: child runs are ordinary executions linked to the waiting step."""

    def __init__(self, execution: Execution, step_run: StepRun):
        self.execution, self.step_run = execution, step_run

    def start(self, workflow, input, *, ctx):
        from workflows.models import Workflow

        from ..services import execution_start, test_run_options

        actor = authz.actor_of(self.execution)
        # Only workflows the person behind this run may see; the others do not exist for it.
        visible = authz.visible(actor, Workflow)
        found = visible.filter(pk=workflow) if str(workflow).isdigit() else visible.filter(name=workflow)
        target = found.select_related("active_version").first()
        if target is None:
            raise StepError(f"no workflow named '{workflow}'")
        if not authz.may(actor, "run", target):
            raise StepError(f"permission error: {actor.get_username()} may not run workflow '{target.name}'")
        child = execution_start(
            workflow=target,
            input=input,
            user=actor,
            trigger_kind="sub_workflow",
            source=f"step {ctx.step.key} of #{self.execution.pk}",
            is_test=self.execution.is_test,
            # A test run's child is one too, with the same switches: its waits fast-forwarded if the parent's are.
            trigger_meta=test_run_options(is_test=self.execution.is_test, options=self.execution.trigger_meta or {}),
            idempotency_key=ctx.idempotency_key,
            parent_step_run=self.step_run,
        )
        return child.pk

    def status(self, execution_id):
        child = Execution.objects.filter(pk=execution_id).values("status", "output", "error").first()
        if child is None:
            raise StepError(f"sub-workflow run #{execution_id} no longer exists")
        return child


class ActionRunner:
    """The engine's ActionPort, backed by the integrations' action registry."""

    def __init__(self, *, execution_id: int, actor=None):
        self.execution_id, self.actor = execution_id, actor

    def run(self, action, inputs, *, ctx):
        action_ctx = action_registry.ActionContext(
            idempotency_key=ctx.idempotency_key,
            timeout=ctx.timeout,
            test_mode=ctx.test_mode,
            step_key=ctx.step.key,
            execution_id=self.execution_id,
            set_variables=ctx.extra.setdefault("set_vars", {}),
            send_reads=bool(ctx.extra.get("send_reads")),
            sent=ctx.extra.setdefault("sent", []),
            credentials=lambda service, name: connection_credentials(
                service=service, name=name, test_mode=ctx.test_mode, actor=self.actor
            ),
            create_task=self._create_task,
        )
        if ctx.input is inputs:  # the step run keeps its input: without the credentials typed into it
            ctx.input = action_registry.recorded_inputs(action, inputs)
        return action_registry.run_action(action, inputs, action_ctx)

    def _create_task(self, request: dict) -> dict:
        """A human task for this run (the create_task action), through the same service as the task step."""
        from ..tasks_service import task_create, task_state

        execution = Execution.objects.filter(pk=self.execution_id).first()
        return task_state(task_create(request=request, execution=execution))
