"""Run a workflow from the command line, printing each step as it completes; exits non-zero on failure."""

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.urls import reverse

from executions import runtime
from executions.models import Execution
from executions.runtime.sweep import sweep
from workflows import authz
from workflows.library import template_use
from workflows.models import Workflow, WorkflowTemplate


class Command(BaseCommand):
    help = "Start a run of NAME with --input FILE.json; --test runs the draft; --follow prints steps until it ends."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Workflow name or id.")
        parser.add_argument("--input", help="JSON file with the trigger data (default: the workflow's sample input).")
        parser.add_argument("--test", action="store_true", help="Test run of the draft: side effects are recorded.")
        parser.add_argument("--follow", action="store_true", help="Print each step as it completes until the run ends.")
        parser.add_argument("--inline", action="store_true", help="Run the steps in this process (no worker needed).")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to follow before giving up.")
        parser.add_argument(
            "--user", help="Act for this user (who must be allowed to run it); default: the operator, as the system."
        )

    def handle(self, name, input, test, follow, inline, timeout, user=None, **options):
        from executions.services import execution_start

        actor = self._user(user)
        workflow = self._workflow(name, actor)
        payload = self._payload(input, workflow)
        try:
            execution = execution_start(
                workflow=workflow,
                input=payload,
                user=actor,
                is_test=test,
                trigger_kind="cli",
                source="run_workflow",
                trigger_meta={"fast_forward": test},
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Started run #{execution.pk} of '{workflow.name}' (v{execution.version.number}"
            f"{', test run' if test else ''})."
        )
        if not (follow or inline):
            return
        execution = self._follow(execution, inline, timeout)
        if execution.status != Execution.Status.SUCCEEDED:
            raise CommandError(f"Run #{execution.pk} {execution.status}: {execution.error}")
        self.stdout.write(
            self.style.SUCCESS(f"Run #{execution.pk} succeeded: {json.dumps(execution.output, default=str)}")
        )

    def _user(self, username):
        if not username:
            return None
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--user: no active user named {username}")
        return user

    def _workflow(self, name, actor):
        by_name = Q(name=name) | Q(template_slug=name)  # a workflow made from the template `name` counts too
        visible = authz.visible(actor, Workflow)  # what the user (or, without --user, the operator) may see
        found = visible.filter(pk=name) if str(name).isdigit() else visible.filter(by_name)
        workflow = found.select_related("active_version").order_by("-pk").first()
        if workflow is None:
            workflow = self._from_template(name, actor)
        return workflow

    def _from_template(self, name, actor):
        """No workflow of that name, but a template of that name or slug: make a draft from it first."""
        template = WorkflowTemplate.objects.filter(Q(name=name) | Q(slug=name)).first()
        if template is None:
            raise CommandError(f"No workflow or template named '{name}'.")
        try:
            workflow = template_use(template=template, owner=actor)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created draft workflow #{workflow.pk} '{workflow.name}' from the template.")
        return workflow

    def _payload(self, path, workflow):
        if not path:
            return workflow.sample_input or {}
        try:
            return json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"--input: {exc}") from exc

    def _follow(self, execution, inline, timeout):
        seen, deadline = {"runs": set(), "approvals": set()}, time.monotonic() + timeout
        while time.monotonic() < deadline:
            if inline:
                runtime.execution_run(execution_id=execution.pk)
                sweep()
            self._print_new(execution, seen)
            self._print_waiting_people(execution, seen)
            execution.refresh_from_db()
            if execution.is_finished:
                self._print_new(execution, seen)
                return execution
            time.sleep(0.2)
        raise CommandError(f"Run #{execution.pk} still {execution.status} after {timeout:g} s.")

    def _print_waiting_people(self, execution, seen):
        """Say once which approvals the run waits for, and where to decide them."""
        base = settings.SITE_URL.rstrip("/")
        for approval in execution.approvals.filter(status="pending").exclude(pk__in=seen["approvals"]):
            seen["approvals"].add(approval.pk)
            url = base + reverse("admin:executions_approval_change", args=[approval.pk])
            self.stdout.write(f"… waiting for an approval: {approval.title} — decide it at {url}")

    def _print_new(self, execution, seen):
        done = execution.step_runs.filter(status__in=("succeeded", "failed", "cancelled")).order_by("id")
        total = len(execution.version.definition.get("steps", []))
        for run in done.exclude(pk__in=seen["runs"]):
            seen["runs"].add(run.pk)
            mark = {"succeeded": "✓", "failed": "✗"}.get(run.status, "·")
            detail = f" — {run.error}" if run.error else ""
            self.stdout.write(
                f"[{len(seen['runs'])}/{total}] {mark} {run.step_name or run.step_key} "
                f"({run.duration_ms or 0} ms){detail}"
            )
