"""Admin for executions: history with filters, and a read-only detail with every step attempt."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from faos.admin_site import short_datetime
from workflows import authz
from workflows.admin.rules import RulesAdmin
from workflows.models import Trigger, WorkflowVersion

from ..concurrency import waiting_reason
from ..models import Execution, StepRun
from ..services import execution_cancel, execution_rerun, execution_retry
from . import approvals, people  # noqa: F401 - register the approvals inbox, tasks and notifications
from .json_head import json_heads, shown_json
from .paging import CappedPaginator, fold_step_runs, item_start
from .step_rows import RowsFormSet
from .timeline import render_timeline

RUN_JSON = ("input", "output", "variables")  # the run page reads these as heads (json_head), never whole
STEP_JSON = ("input", "output", "requests")


class StepRunInline(admin.TabularInline):
    model = StepRun
    formset = RowsFormSet  # view-only rows written from the queryset (step_rows), no form each
    template = "admin/executions/execution/step_runs_inline.html"
    extra = 0
    can_delete = False
    ordering = ("id",)
    fields = (
        "step_key",
        "step_name",
        "step_kind",
        "attempt",
        "status_badge",
        "input_json",
        "output_json",
        "requests_json",
        "error",
        "started_at",
        "duration_ms",
        "worker",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Status")
    def status_badge(self, obj):
        return format_html('<span class="faos-badge faos-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Input")
    def input_json(self, obj):
        return shown_json(obj, "input")

    @admin.display(description="Output")
    def output_json(self, obj):
        return shown_json(obj, "output")

    @admin.display(description="Requests sent")
    def requests_json(self, obj):
        return shown_json(obj, "requests")


class VersionFilter(admin.SimpleListFilter):
    """Runs of one version number (combine with the workflow filter for "workflow X, v2")."""

    title = "version"
    parameter_name = "version"

    def lookups(self, request, model_admin):
        """Version numbers of the workflows this person may see, read from the versions, not from every run."""
        versions = authz.visible(request.user, WorkflowVersion).order_by()
        numbers = versions.values_list("number", flat=True).distinct()
        return [(str(n), f"v{n}") for n in sorted(numbers)]

    def queryset(self, request, queryset):
        return queryset.filter(version__number=self.value()) if self.value() else queryset


class TriggerKindFilter(admin.SimpleListFilter):
    """What started the run, from the known kinds (a DISTINCT over every run would read the whole table)."""

    title = "trigger kind"
    parameter_name = "trigger_kind"
    KINDS = ("manual", *Trigger.Kind.values, "api", "cli", "sub_workflow")

    def lookups(self, request, model_admin):
        return [(kind, kind.replace("_", " ")) for kind in dict.fromkeys(self.KINDS)]

    def queryset(self, request, queryset):
        return queryset.filter(trigger_kind=self.value()) if self.value() else queryset


@admin.register(Execution)
class ExecutionAdmin(RulesAdmin):
    list_display = (
        "id",
        "workflow_version",
        "status_badge",
        "trigger",
        "created",
        "duration",
    )
    list_filter = ("status", "workflow", VersionFilter, TriggerKindFilter, "is_test", "created_at")
    list_select_related = ("workflow", "version")
    paginator = CappedPaginator  # no COUNT(*) over every run; no second count of the unfiltered total
    show_full_result_count = False
    list_per_page = 50
    search_fields = ("=id", "workflow__name", "error", "input")  # input: a value anywhere in the trigger data
    search_help_text = "Run id, workflow name, error text, or a value in the input (e.g. an e-mail address)."
    readonly_fields = (
        "timeline",
        "workflow",
        "version",
        "status_badge",
        "trigger_kind",
        "trigger_source",
        "is_test",
        "started_by",
        "input_json",
        "output_json",
        "variables_json",
        "error",
        "error_step",
        "created_at",
        "started_at",
        "finished_at",
        "deadline_at",
        "duration",
        "retry_of",
        "usage",
        "concurrency",
    )
    change_form_template = "admin/executions/execution/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("workflow", "version"),
                    ("status_badge", "duration"),
                    ("trigger_kind", "trigger_source", "is_test"),
                    ("started_by", "usage"),
                    ("error_step", "error"),
                    "concurrency",
                )
            },
        ),
        ("Timeline", {"fields": ("timeline",)}),
        ("Data", {"fields": ("input_json", "output_json", "variables_json")}),
        ("Timing", {"fields": (("created_at", "started_at", "finished_at", "deadline_at"), "retry_of")}),
    )
    inlines = (StepRunInline,)
    actions = ("retry_selected", "retry_selected_on_active", "cancel_selected", "rerun_selected")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # history is read-only; runs change only through the actions

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["faos_may_run"] = self.has_run_permission(request, obj)  # retry, cancel, re-run buttons
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def has_run_permission(self, request, obj=None):
        """Cancel, retry and re-run: the run right on the run's workflow."""
        return authz.may(request.user, "run", obj or Execution)

    @admin.display(description="Model usage")
    def usage(self, obj):
        totals = obj.step_runs.usage()
        if not totals["tokens_in"] and not totals["tokens_out"]:
            return "—"
        return f"{totals['tokens_in']} tokens in, {totals['tokens_out']} out, ≈ ${totals['cost_usd']:.4f}"

    @admin.display(description="Steps")
    def timeline(self, obj):
        return render_timeline(obj, getattr(obj, "faos_fold", None))

    def get_object(self, request, object_id, from_field=None):
        """The run, with the step runs its page shows: loop items folded to a window (?items=N)."""
        if from_field is None:
            obj = self._run_with_heads(request, object_id)
        else:  # the admin's ?_to_field= lookups
            obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj.faos_fold = fold_step_runs(obj, start=item_start(request.GET.get("items")))
        return obj

    def _run_with_heads(self, request, object_id) -> Execution | None:
        """The run with its JSON columns read as heads: a 10,000-item input is not loaded to show its start."""
        queryset = self.get_queryset(request).defer(*RUN_JSON).annotate(**json_heads(*RUN_JSON))
        try:
            return queryset.get(pk=object_id)
        except (Execution.DoesNotExist, ValidationError, ValueError):
            return None

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, StepRunInline) and getattr(obj, "faos_fold", None):
            shown = obj.faos_fold.step_runs.defer(*STEP_JSON, "error_detail").annotate(**json_heads(*STEP_JSON))
            kwargs["queryset"] = shown.order_by("id")
        return kwargs

    def get_urls(self):
        act = self.admin_site.admin_view(require_POST(self.act_view))
        return [path("<int:pk>/act/", act, name="executions_execution_act")] + super().get_urls()

    def act_view(self, request, pk):
        """Retry from the failed step (own or active version), cancel or re-run one run (POST)."""
        execution = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_run_permission(request, execution):
            raise PermissionDenied
        what = request.POST.get("what")
        try:
            if what == "cancel":
                done = execution_cancel(execution=execution, user=request.user)
                self.message_user(request, "Cancelled." if done else f"Run is already {execution.status}.")
                return redirect("admin:executions_execution_change", pk)
            if what == "rerun":
                new = execution_rerun(execution=execution, user=request.user)
            else:
                new = execution_retry(execution=execution, user=request.user, on_active_version=what == "retry_active")
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return redirect("admin:executions_execution_change", pk)
        self.message_user(request, f"Started run #{new.pk} ({what.replace('_', ' ')} of #{pk}).", messages.SUCCESS)
        return redirect("admin:executions_execution_change", new.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workflow", "version", "started_by")

    def _runnable(self, request, queryset):
        """The selected runs this person may act on (the run right on each run's workflow)."""
        allowed = [w.pk for w in {e.workflow for e in queryset} if authz.may(request.user, "run", w)]
        return queryset.filter(workflow__in=allowed)

    @admin.display(description="Workflow", ordering="workflow__name")
    def workflow_version(self, obj):
        """The workflow and, quieter, the version the run used: one column, so the list fits 1280 px."""
        return format_html('{} <span class="faos-quiet">v{}</span>', obj.workflow.name, obj.version.number)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="faos-badge faos-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Concurrency")
    def concurrency(self, obj):
        """The key this run shares its workflow's limit by, and why a queued run waits (the run page only)."""
        if obj.concurrency_key is None:
            return "-"
        key = f"key {obj.concurrency_key!r}" if obj.concurrency_key else "one limit for the workflow"
        return f"{key}. {waiting_reason(obj)}".strip()

    @admin.display(description="Trigger", ordering="trigger_kind")
    def trigger(self, obj):
        """How the run started, and whether it is a test run: one column, so the list fits 1280 px."""
        test = format_html(' <span class="faos-badge">test</span>') if obj.is_test else ""
        return format_html('<span class="faos-nowrap">{}{}</span>', obj.trigger_kind, test)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return short_datetime(obj.created_at)

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj):
        return "—" if obj.duration_ms is None else f"{obj.duration_ms / 1000:.2f} s"

    @admin.display(description="Input")
    def input_json(self, obj):
        return shown_json(obj, "input")

    @admin.display(description="Output")
    def output_json(self, obj):
        return shown_json(obj, "output")

    @admin.display(description="Variables")
    def variables_json(self, obj):
        return shown_json(obj, "variables")

    @admin.action(description="Retry selected failed runs from the failed step", permissions=["run"])
    def retry_selected(self, request, queryset, on_active_version=False):
        started, refused = [], []
        for execution in self._runnable(request, queryset).select_related("workflow__active_version", "version"):
            try:
                started.append(
                    execution_retry(execution=execution, user=request.user, on_active_version=on_active_version)
                )
            except ValidationError as exc:
                refused.append(f"#{execution.pk}: {'; '.join(exc.messages)}")
        if started:
            runs = ", ".join(f"#{r.pk} (retry of #{r.retry_of_id})" for r in started)
            self.message_user(request, f"Started {runs}.", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Retry selected failed runs on the active version", permissions=["run"])
    def retry_selected_on_active(self, request, queryset):
        self.retry_selected(request, queryset, on_active_version=True)

    @admin.action(description="Cancel selected runs", permissions=["run"])
    def cancel_selected(self, request, queryset):
        cancelled = sum(execution_cancel(execution=e, user=request.user) for e in self._runnable(request, queryset))
        self.message_user(
            request, f"Cancelled {cancelled} run(s); finished runs were left as they were.", messages.SUCCESS
        )

    @admin.action(description="Re-run selected with the same input", permissions=["run"])
    def rerun_selected(self, request, queryset):
        runnable = self._runnable(request, queryset).select_related("workflow", "version")
        started = [execution_rerun(execution=e, user=request.user).pk for e in runnable]
        self.message_user(request, f"Started run(s) {', '.join(f'#{i}' for i in started)}.", messages.SUCCESS)
