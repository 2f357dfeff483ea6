"""Workflow definition services: snapshot, validate, activate, pause."""

from __future__ import annotations

import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from executions.engine import validation
from executions.engine.definition import FORMAT_VERSION, Definition, step_dict
from executions.engine.problems import Problem
from executions.engine.spelling import OLD_STEP_FIELDS, canonical_config, canonical_definition, canonical_step
from integrations import actions
from integrations.actions import CONNECTION_FIELD

from . import authz
from .models import Workflow, WorkflowVersion, validate_concurrency_key


class WorkflowInvalid(ValidationError):
    """The definition has problems; `problems` names each step and field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__([str(p) for p in problems])


def workflow_definition(*, workflow: Workflow) -> dict:
    """The draft (steps and triggers as edited now) in the import/export format."""
    return {
        "format": FORMAT_VERSION,
        "name": workflow.name,
        "description": workflow.description,
        "timeout_seconds": workflow.timeout_seconds,
        "count_paused_time": workflow.count_paused_time,
        "on_failure": workflow.on_failure,
        **({"activation_review": True} if workflow.activation_review else {}),  # absent: old checksums hold
        **_concurrency(workflow),
        "steps": [step_dict(step) for step in workflow.steps.order_by("position", "id")],
        "triggers": [
            {"kind": t.kind, "name": t.name, "config": t.config, "is_enabled": t.is_enabled}
            for t in workflow.triggers.order_by("id")
        ],
    }


def _concurrency(workflow: Workflow) -> dict:
    """`concurrency: {limit, key, overflow}` when the workflow limits its runs in flight."""
    if not workflow.concurrency_limit:
        return {}
    limits = {"limit": workflow.concurrency_limit, "overflow": workflow.concurrency_overflow}
    return {"concurrency": {**limits, **({"key": workflow.concurrency_key} if workflow.concurrency_key else {})}}


def _concurrency_fields(definition: dict) -> dict:
    """The Workflow fields of a definition's `concurrency` (import); an invalid one names its field."""
    data = definition.get("concurrency") or {}
    if not isinstance(data, dict):
        raise ValidationError({"concurrency": "Expected an object: {limit: 1, key: '{{trigger.customer.id}}'}."})
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValidationError({"concurrency.limit": "Must be a whole number of at least 1."})
    overflow = data.get("overflow") or Workflow.Overflow.QUEUE
    if overflow not in Workflow.Overflow.values:
        raise ValidationError({"concurrency.overflow": f"Must be one of {', '.join(Workflow.Overflow.values)}."})
    key = data.get("key") or ""
    if not isinstance(key, str):
        raise ValidationError({"concurrency.key": "Must be text, e.g. {{trigger.customer.id}}."})
    try:
        validate_concurrency_key(key)
    except ValidationError as exc:
        raise ValidationError({"concurrency.key": exc.messages}) from None
    return {"concurrency_limit": limit, "concurrency_key": key, "concurrency_overflow": overflow}


def definition_validate(*, definition: dict) -> list[Problem]:
    """Every problem of a definition, as the engine and the action registry see them."""
    return validation.validate(Definition.from_dict(definition), check_action=actions.check_step, check_step=_external)


def _external(step) -> list[Problem]:
    """Agents and sub-workflows a step names must exist (and the agent must be allowed the action)."""
    from .models import Agent

    name = step.config.get("agent") if step.kind == "agent" else None
    if name:
        agent = Agent.objects.filter(name=name).first()
        if agent is None:
            return [Problem(step.key, "config.agent", f"no agent named '{name}': add it under Workflows → Agents")]
        action = step.config.get("action")
        if action and action not in (agent.allowed_actions or []):
            return [Problem(step.key, "config.action", f"permission error: agent '{name}' may not '{action}'")]
    target = step.config.get("workflow") if step.kind == "sub_workflow" else None
    if target and "{{" not in str(target) and not Workflow.objects.filter(name=target).exists():
        return [Problem(step.key, "config.workflow", f"no workflow named '{target}'")]
    return []


def definition_deprecations(*, definition: dict) -> list[str]:
    """A note per old spelling a definition uses (next_step, retry_max_attempts, an action's inputs…)."""
    return canonical_definition(definition)[1]


def workflow_deprecations(*, workflow: Workflow) -> list[str]:
    """A note per draft step whose config still uses an old spelling (an action's `inputs`)."""
    steps = workflow.steps.order_by("position", "id")
    return [n for i, s in enumerate(steps) for n in canonical_config(s.kind, s.config, f"steps[{i}].config")[1]]


def workflow_validate(*, workflow: Workflow) -> list[Problem]:
    return definition_validate(definition=workflow_definition(workflow=workflow)) + trigger_secret_problems(
        workflow=workflow
    )


def trigger_secret_problems(*, workflow: Workflow) -> list[Problem]:
    """An enabled webhook whose auth scheme checks a secret but has none would answer 403 to every delivery."""
    from integrations.webhooks import SCHEMES, needs_secret

    problems = []
    for index, trigger in enumerate(workflow.triggers.order_by("id")):
        scheme = trigger.auth_scheme
        if trigger.kind == "webhook" and trigger.is_enabled and needs_secret(scheme) and not trigger.secrets:
            name = trigger.name or f"webhook {index + 1}"
            problems.append(
                Problem(
                    None,
                    f"triggers[{index}].secrets",
                    f"webhook trigger '{name}' checks '{SCHEMES.get(scheme, scheme)}' but has no secret: "
                    "paste the signing secret the sender gives you under New secret (API: `secrets`), "
                    "or it will refuse every delivery",
                )
            )
    return problems


def definition_checksum(definition: dict) -> str:
    """The fingerprint a version is found by: an unchanged draft reuses its version."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


@transaction.atomic
def workflow_snapshot(*, workflow: Workflow, user=None, note: str = "") -> WorkflowVersion:
    """Freeze the draft as a version; an unchanged draft reuses the version it already has."""
    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()  # serialises version numbering
    definition = workflow_definition(workflow=workflow)
    checksum = definition_checksum(definition)
    existing = workflow.versions.filter(checksum=checksum).first()
    if existing:
        return existing
    number = (workflow.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return WorkflowVersion.objects.create(
        workflow=workflow, number=number, definition=definition, checksum=checksum, note=note, created_by=user
    )


@transaction.atomic
def workflow_activate(*, workflow: Workflow, user=None, version: WorkflowVersion | None = None) -> WorkflowVersion:
    """Validate and activate the draft (or an older version: a rollback); raises WorkflowInvalid.

    From now on webhook, schedule and event runs act for `user`, who must be allowed every connection it uses.
    A version that needs a second editor's approval raises ReviewRequired: ask with activation.activation_start.
    """
    from .activation import ReviewRequired, review_reasons

    authz.require(user, "activate", workflow)
    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()  # one activation at a time
    version = version_checked(workflow=workflow, user=user, version=version)
    reasons = review_reasons(workflow=workflow, version=version)
    if reasons:
        raise ReviewRequired(reasons)
    return version_go_live(workflow=workflow, version=version, user=user)


def version_checked(*, workflow: Workflow, user, version: WorkflowVersion | None) -> WorkflowVersion:
    """The version to activate (the draft frozen, or `version`), valid and using only connections `user` may."""
    if version is None:
        problems = workflow_validate(workflow=workflow)
        if problems:
            raise WorkflowInvalid(problems)
        version = workflow_snapshot(workflow=workflow, user=user)
    elif version.workflow_id != workflow.pk:
        raise ValidationError({"version": "That version belongs to another workflow."})
    else:
        problems = definition_validate(definition=version.definition) + trigger_secret_problems(workflow=workflow)
        if problems:
            raise WorkflowInvalid(problems)
    refused = connections_refused(definition=version.definition, user=user)
    if refused:
        raise WorkflowInvalid(refused)
    return version


def version_go_live(*, workflow: Workflow, version: WorkflowVersion, user) -> WorkflowVersion:
    """Make a checked version the active one; a change of version supersedes pending activation requests."""
    from .models import ActivationRequest

    if workflow.active_version_id != version.pk:
        pending = ActivationRequest.objects.filter(workflow=workflow, status=ActivationRequest.Status.PENDING)
        pending.update(status=ActivationRequest.Status.SUPERSEDED, decided_at=timezone.now())
    workflow.active_version = version
    workflow.status = Workflow.Status.ACTIVE
    workflow.activated_by = user or workflow.activated_by
    workflow.save(update_fields=["active_version", "status", "activated_by", "updated_at"])
    WorkflowVersion.objects.filter(pk=version.pk).update(activated_at=timezone.now())
    return version


def connections_used(*, definition: dict):
    """(step key, Connection or None, service, named) per step that acts through a connection or an agent's."""
    from integrations.services import connection_find

    from .models import Agent

    for step in definition.get("steps") or []:
        config = canonical_config(step.get("kind") or "action", step.get("config") or {})[0]
        action = actions.get(config.get("action", "")) if step.get("kind") == "action" else None
        service = getattr(action, "service", "")
        name = (config.get("input") or {}).get("connection")
        named = "{{" not in str(name or "")  # an expression picks the connection at run time
        found = connection_find(service=service, name=name) if service and named else None
        if step.get("kind") == "agent" and config.get("agent"):
            agent = Agent.objects.select_related("connection").filter(name=config["agent"]).first()
            found, service, named = (agent.connection if agent else None), "", True
        if found is not None or (service and not named):
            yield step["key"], found, service, named


def connections_refused(*, definition: dict, user) -> list[Problem]:
    """A problem per step whose connection (or agent's connection) `user` may not use, naming the connection."""
    problems = []
    for key, found, _, _ in connections_used(definition=definition):
        if found is not None and not authz.may(user, "use", found):
            who = user.get_username() if user else "nobody"
            problems.append(Problem(key, CONNECTION_FIELD, f"permission error: {who} may not use {found}"))
    return problems


@transaction.atomic
def workflow_set_status(*, workflow: Workflow, status: str, user=None) -> Workflow:
    """Pause, archive or return to draft; activating goes through workflow_activate."""
    authz.require(user, "activate", workflow)
    if status == Workflow.Status.ACTIVE:
        raise ValidationError({"status": "Use activate, which validates the workflow first."})
    updated = Workflow.objects.filter(pk=workflow.pk).exclude(status=status).update(status=status)
    if updated:
        workflow.status = status
    return workflow


class WorkflowBusy(Exception):
    """The workflow is live (active, or runs still going): the message says what to do first."""


@transaction.atomic
def workflow_delete(*, workflow: Workflow) -> None:
    """Delete a workflow that is not live, with its versions and finished runs."""
    from executions.models import Execution

    if workflow.status == Workflow.Status.ACTIVE:
        raise WorkflowBusy(f"Workflow '{workflow.name}' is active: deactivate it first, then delete it.")
    going = workflow.executions.filter(status__in=Execution.UNFINISHED).count()
    if going:
        runs = "1 run is" if going == 1 else f"{going} runs are"
        raise WorkflowBusy(f"{runs} still in progress for '{workflow.name}': cancel or finish them first.")
    workflow.executions.all().delete()  # runs hold their version (PROTECT), so they go before the versions
    workflow.delete()


STEP_FIELDS = frozenset(
    {"key", "name", "kind", "config", "next", "branches", "timeout_seconds", "on_error", "on_error_goto", "retry"}
)
RETRY_FIELDS = frozenset({"max_attempts", "initial_delay", "multiplier", "max_delay", "jitter"})


def _check_step_fields(steps: list) -> None:
    """Unknown fields are errors, not silently dropped settings; old spellings (next_step, retry_x) are read."""
    errors = {}
    for index, data in enumerate(steps):
        if not isinstance(data, dict):
            errors[f"steps[{index}]"] = "Each step must be a mapping."
            continue
        for field in sorted(set(data) - STEP_FIELDS - set(OLD_STEP_FIELDS)):
            hint = f" (use retry: {{{', '.join(sorted(RETRY_FIELDS))}}})" if field.startswith("retry_") else ""
            errors[f"steps[{index}].{field}"] = f"Unknown step field{hint}."
        for field in sorted(set(canonical_step(data)[0].get("retry") or {}) - RETRY_FIELDS):
            errors[f"steps[{index}].retry.{field}"] = f"Unknown retry setting (use {', '.join(sorted(RETRY_FIELDS))})."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def workflow_import(*, definition: dict, owner=None, name: str | None = None) -> Workflow:
    """Create a draft workflow (steps and triggers) from the import/export format."""
    authz.require(owner, "add", Workflow)
    from .models import Step, Trigger

    if not isinstance(definition, dict) or not isinstance(definition.get("steps", []), list):
        raise ValidationError({"definition": "Expected an object with a list of steps."})
    _check_step_fields(definition.get("steps", []))
    definition = canonical_definition(definition)[0]  # old spellings read; definition_deprecations names them
    concurrency = _concurrency_fields(definition)
    if not isinstance(definition.get("activation_review", False), bool):
        raise ValidationError({"activation_review": "Must be true or false."})
    workflow = Workflow.objects.create(
        name=name or definition.get("name") or "Imported workflow",
        description=definition.get("description", ""),
        timeout_seconds=definition.get("timeout_seconds") or 300,
        count_paused_time=bool(definition.get("count_paused_time", False)),
        on_failure=definition.get("on_failure") or Workflow.OnFailure.NOTHING,
        sample_input=definition.get("sample_input") or {},
        activation_review=definition.get("activation_review") is True,
        owner=owner,
        **concurrency,
    )
    for position, data in enumerate(definition.get("steps", [])):
        step = Definition.from_dict({"steps": [data]}).steps[0]
        Step.objects.create(workflow=workflow, position=position, **_step_fields(step, data, position))
    from .triggers import trigger_sync

    for data in definition.get("triggers", []):
        trigger = Trigger.objects.create(
            workflow=workflow,
            kind=data.get("kind", "manual"),
            name=data.get("name", ""),
            config=data.get("config") or {},
            is_enabled=data.get("is_enabled", True),
        )
        trigger_sync(trigger=trigger)
    return workflow


def trigger_fire_schedule(*, trigger_id: int, fired_at):
    """A schedule fired: start one run for the occurrence unless the trigger or workflow is off."""
    from executions.services import execution_start

    from .models import Trigger
    from .triggers import occurrence_key

    trigger = Trigger.objects.select_related("workflow__active_version").filter(pk=trigger_id, kind="schedule").first()
    if trigger is None or not trigger.is_enabled or trigger.workflow.status != Workflow.Status.ACTIVE:
        return None
    return execution_start(
        workflow=trigger.workflow,
        input=trigger.config.get("input") or {},
        trigger_kind="schedule",
        source=f"schedule:{trigger.name or trigger.pk}",
        idempotency_key=occurrence_key(trigger, fired_at),
        trigger_meta={"scheduled_for": fired_at.isoformat(), "trigger_id": trigger.pk},
    )


@transaction.atomic
def workflow_duplicate(*, workflow: Workflow, owner=None, name: str | None = None) -> Workflow:
    """A new draft with the same steps and triggers (the guide's "duplicate → v2")."""
    authz.require(owner, "view", workflow)
    from .io import workflow_export

    definition = workflow_export(workflow=workflow)
    copy = workflow_import(definition=definition, owner=owner or workflow.owner, name=name or f"{workflow.name} (copy)")
    copy.template_slug = workflow.template_slug
    copy.save(update_fields=["template_slug"])
    return copy


@transaction.atomic
def workflow_restore_draft(*, workflow: Workflow, version: WorkflowVersion) -> Workflow:
    """Replace the draft's steps with a version's ("new version from this one"); triggers stay as they are."""
    from .models import Step

    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
    workflow.steps.all().delete()
    _check_step_fields(version.definition.get("steps", []))
    definition = canonical_definition(version.definition)[0]
    for position, data in enumerate(definition.get("steps", [])):
        step = Definition.from_dict({"steps": [data]}).steps[0]
        Step.objects.create(workflow=workflow, position=position, **_step_fields(step, data, position))
    workflow.timeout_seconds = definition.get("timeout_seconds") or workflow.timeout_seconds
    workflow.save(update_fields=["timeout_seconds", "updated_at"])
    return workflow


def _step_fields(step, data: dict, position: int) -> dict:
    return dict(
        key=data.get("key") or f"step_{position + 1}",
        name=step.name,
        kind=step.kind,
        config=step.config,
        next_step=step.next or "",
        branches=step.branches,
        timeout_seconds=step.timeout_seconds,
        on_error=step.on_error,
        on_error_goto=step.on_error_goto or "",
        retry_max_attempts=step.retry.max_attempts,
        retry_initial_delay=step.retry.initial_delay,
        retry_multiplier=step.retry.multiplier,
        retry_max_delay=step.retry.max_delay,
        retry_jitter=step.retry.jitter,
    )
