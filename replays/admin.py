"""The admin's replay pages, under a workflow: pick past runs to replay through the draft, then the report.

/admin/workflows/workflow/<pk>/replay/                 pick runs (editors of the workflow)
/admin/workflows/workflow/<pk>/replays/<replay_id>/    the side-by-side report (whoever may see the workflow)
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from executions.models import Execution
from workflows import authz
from workflows.diff import version_diff
from workflows.models import Workflow
from workflows.services import WorkflowInvalid, workflow_definition

from . import report, selection
from .models import Replay
from .services import replay_progress, replay_request

RECENT = 50  # runs offered for ticking one by one


class ReplayForm(forms.Form):
    """Which past runs to replay: the last N, the failed ones, a filter, or runs ticked one by one."""

    MODES = (
        ("last", "The last runs"),
        ("failed", "Failed runs only (failed or timed out)"),
        ("filter", "Runs matching a filter"),
        ("pick", "The runs ticked below"),
    )
    mode = forms.ChoiceField(choices=MODES, initial="last", widget=forms.RadioSelect)
    last = forms.IntegerField(
        min_value=1, max_value=selection.MAX_RUNS, initial=selection.DEFAULT_LAST, label="How many"
    )
    status = forms.MultipleChoiceField(
        choices=[(s, s.replace("_", " ")) for s in selection.FINISHED],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Started from")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Started until")
    trigger = forms.ChoiceField(required=False, label="Trigger")
    executions = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Runs")

    def __init__(self, *args, workflow: Workflow, recent: list[Execution], **kwargs):
        super().__init__(*args, **kwargs)
        kinds = workflow.executions.filter(is_test=False).values_list("trigger_kind", flat=True).distinct()
        self.fields["trigger"].choices = [("", "Any"), *((k, k) for k in sorted(set(kinds)))]
        self.fields["executions"].choices = [(str(run.pk), f"#{run.pk}") for run in recent]

    def clean(self):
        data = super().clean()
        if data.get("mode") == "pick" and not data.get("executions"):
            self.add_error("executions", "Tick at least one run.")
        return data

    def selection(self) -> dict:
        """The selection replays.selection reads."""
        data, mode = self.cleaned_data, self.cleaned_data["mode"]
        if mode == "pick":
            return {"executions": [int(pk) for pk in data["executions"]]}
        chosen = {"last": data["last"], "failed": mode == "failed"}
        if mode == "filter":
            chosen |= {"status": data["status"], "trigger": data["trigger"]}
            chosen |= {k: data[k].isoformat() for k in ("since", "until") if data.get(k)}
        return chosen


def urls(model_admin) -> list:
    """The replay pages, wrapped by the admin site (sign-in, CSRF)."""
    view = model_admin.admin_site.admin_view
    return [
        path(
            "<int:pk>/replay/",
            view(lambda r, pk: pick_view(model_admin, r, pk)),
            name="workflows_workflow_replay",
        ),
        path(
            "<int:pk>/replays/<int:replay_id>/",
            view(lambda r, pk, replay_id: report_view(model_admin, r, pk, replay_id)),
            name="workflows_workflow_replayreport",
        ),
    ]


def pick_view(model_admin, request, pk):
    """Choose past runs and replay them through the draft; lists the draft's changes and earlier replays."""
    workflow = get_object_or_404(authz.visible(request.user, Workflow).select_related("active_version"), pk=pk)
    if not authz.may(request.user, "replay", workflow):
        raise PermissionDenied
    finished = workflow.executions.filter(is_test=False, status__in=selection.FINISHED).select_related("version")
    recent = list(finished.order_by("-created_at", "-id")[:RECENT])
    form = ReplayForm(request.POST or None, workflow=workflow, recent=recent)
    if request.method == "POST" and form.is_valid():
        replay = _request(request, workflow, form)
        if replay is not None:
            messages.success(request, f"Replaying {replay.total} run(s) through the draft.")
            return redirect("admin:workflows_workflow_replayreport", workflow.pk, replay.pk)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": workflow,
        "title": f"Replay history: {workflow.name}",
        "form": form,
        "recent": recent,
        "changes": _draft_changes(workflow),
        "replays": Replay.objects.of_workflow(workflow).select_related("draft_version", "requested_by")[:10],
    }
    return TemplateResponse(request, "admin/workflows/workflow/replay_pick.html", context)


def _request(request, workflow: Workflow, form: ReplayForm) -> Replay | None:
    """Ask for the replay; a refusal becomes the form's error, at its field when it names one."""
    try:
        return replay_request(workflow=workflow, user=request.user, selection_data=form.selection())
    except WorkflowInvalid as exc:
        form.add_error(None, [f"Fix the draft first: {p}" for p in exc.problems])
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    return None


def _draft_changes(workflow: Workflow) -> dict | None:
    """What the draft changes against the active version (None when there is no active version)."""
    if workflow.active_version is None:
        return None
    return version_diff(workflow.active_version.definition, workflow_definition(workflow=workflow))


def report_view(model_admin, request, pk, replay_id):
    """The report: the summary, then each run side by side (old path, new path, the differences highlighted)."""
    replay = get_object_or_404(
        authz.visible(request.user, Replay).select_related("workflow", "draft_version", "base_version", "requested_by"),
        pk=replay_id,
        workflow_id=pk,
    )
    verdict = request.GET.get("verdict", "")
    items = replay.items.select_related("replay_execution").order_by("id")
    if verdict in report.VERDICTS:
        items = items.filter(verdict=verdict)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": replay.workflow,
        "title": f"Replay #{replay.pk}: {replay.workflow.name} v{replay.draft_version.number}",
        "replay": replay,
        "progress": replay_progress(replay),
        "verdict": verdict,
        "items": [side_by_side(item) for item in items],
        "may_replay": authz.may(request.user, "replay", replay.workflow),
    }
    return TemplateResponse(request, "admin/workflows/workflow/replay_report.html", context)


def side_by_side(item) -> dict:
    """One run's report as the page shows it: rows of (old step, new step) with what differs, in words."""
    diff = item.diff or {}
    old, new = diff.get("old") or {"steps": []}, diff.get("new") or {"steps": []}
    rows = []
    for row in diff.get("rows", []):
        before = old["steps"][row["old"]] if row["old"] is not None else None
        after = new["steps"][row["new"]] if row["new"] is not None else None
        fields = {d.get("field", "").split(".")[0] for d in row["differences"] if d["kind"] == "value"}
        rows.append(
            {
                "key": (after or before)["key"],
                "old": _cell(before),
                "new": _cell(after),
                "notes": [report.describe(d) for d in row["differences"]],
                "changed": bool(row["differences"]),
                "branch_changed": any(d["kind"] == "branch" for d in row["differences"]),
                "input_changed": "input" in fields,
                "output_changed": "output" in fields,
            }
        )
    run_level = [d for d in diff.get("differences", []) if d.get("step") is None]
    return {
        "item": item,
        "rows": rows,
        "notes": [report.describe(d) for d in run_level],
        "old": old,
        "new": new,
        "count": len(diff.get("differences", [])),
    }


def _cell(step: dict | None) -> dict | None:
    if step is None:
        return None
    return {**step, "input_text": report.show(step.get("input")), "output_text": report.show(step.get("output"))}
