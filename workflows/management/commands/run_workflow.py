"""Run a workflow from the command line, printing each step as it completes; exits non-zero on failure."""

import json
import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from executions import runtime
from executions.models import Execution
from executions.sweep import sweep
from workflows.models import Workflow


class Command(BaseCommand):
    help = "Start a run of NAME with --input FILE.json; --test runs the draft; --follow prints steps until it ends."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Workflow name or id.")
        parser.add_argument("--input", help="JSON file with the trigger data (default: the workflow's sample input).")
        parser.add_argument("--test", action="store_true", help="Test run of the draft: side effects are recorded.")
        parser.add_argument("--follow", action="store_true", help="Print each step as it completes until the run ends.")
        parser.add_argument("--inline", action="store_true", help="Run the steps in this process (no worker needed).")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to follow before giving up.")

    def handle(self, name, input, test, follow, inline, timeout, **options):
        from executions.services import execution_start

        workflow = self._workflow(name)
        payload = self._payload(input, workflow)
        try:
            execution = execution_start(
                workflow=workflow,
                input=payload,
                is_test=test,
                trigger_kind="cli",
                source="run_workflow",
                trigger_meta={"fast_forward": test},
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
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

    def _workflow(self, name):
        found = Workflow.objects.filter(pk=name) if str(name).isdigit() else Workflow.objects.filter(name=name)
        workflow = found.select_related("active_version").first()
        if workflow is None:
            raise CommandError(f"No workflow named '{name}'.")
        return workflow

    def _payload(self, path, workflow):
        if not path:
            return workflow.sample_input or {}
        try:
            return json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"--input: {exc}") from exc

    def _follow(self, execution, inline, timeout):
        seen, deadline = set(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            if inline:
                runtime.execution_run(execution_id=execution.pk)
                sweep()
            self._print_new(execution, seen)
            execution.refresh_from_db()
            if execution.is_finished:
                self._print_new(execution, seen)
                return execution
            time.sleep(0.2)
        raise CommandError(f"Run #{execution.pk} still {execution.status} after {timeout:g} s.")

    def _print_new(self, execution, seen):
        done = execution.step_runs.filter(status__in=("succeeded", "failed", "cancelled")).order_by("id")
        total = len(execution.version.definition.get("steps", []))
        for run in done.exclude(pk__in=seen):
            seen.add(run.pk)
            mark = {"succeeded": "✓", "failed": "✗"}.get(run.status, "·")
            detail = f" — {run.error}" if run.error else ""
            self.stdout.write(
                f"[{len({r for r in seen})}/{total}] {mark} {run.step_name or run.step_key} "
                f"({run.duration_ms or 0} ms){detail}"
            )
