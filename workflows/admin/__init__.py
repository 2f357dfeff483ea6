"""Admin for workflows: the draft's steps and triggers inline, run / validate / activate buttons."""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from executions.models import Execution
from executions.services import execution_start, test_run_options
from faos.admin_site import short_datetime
from faos.json_forms import STRICT_JSON
from faos.json_input import json_parse
from replays import admin as replay_admin

from .. import authz, step_reference
from ..activation import activation_start
from ..config_checks import trigger_problems
from ..forms import RunWorkflowForm
from ..models import Step, Trigger, Workflow, WorkflowVersion
from ..querysets import count_of
from ..services import (
    WorkflowInvalid,
    workflow_activate,
    workflow_deprecations,
    workflow_set_status,
    workflow_validate,
)
from ..triggers import next_runs, trigger_config_errors, trigger_sync
from . import catalog, gallery, versions  # noqa: F401 - register agents, triggers, gallery, versions
from .activations import tell_outcome
from .forms import TriggerInlineForm
from .problem_links import problem_message
from .rules import PartInlineMixin, RulesAdmin
from .steps import PartFormSet, StepInline, StepsAdminFormSet, step_forms_view


class TriggerInline(PartInlineMixin, admin.StackedInline):
    model = Trigger
    form = TriggerInlineForm
    formset = PartFormSet
    extra = 0
    fields = (("kind", "name", "is_enabled"), "config", "new_secret", "how_to_call")
    readonly_fields = ("how_to_call",)
    classes = ("collapse",)  # folded under the steps; a trigger with an error opens it

    def get_formset(self, request, obj=None, **kwargs):
        self.request = request  # inline instances are made per request; how_to_call shows secrets to editors only
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="Details")
    def how_to_call(self, obj):
        if obj is None or obj.pk is None:
            return "Save to see the webhook URL or the next runs."
        if obj.kind == Trigger.Kind.WEBHOOK:
            url, curl, note = webhook_example(obj, reveal=self._may_change(obj))
            return format_html(
                '<code id="hook-{}">{}</code> <button type="button" class="button" '
                "onclick=\"navigator.clipboard.writeText(document.getElementById('hook-{}').textContent)\">Copy</button>"
                '<br><small>Example: <code class="hook-curl">{}</code> {}</small>',
                obj.pk,
                url,
                obj.pk,
                curl,
                note,
            )
        if obj.kind == Trigger.Kind.SCHEDULE and not trigger_config_errors(obj.kind, obj.config):
            runs = ", ".join(f"{r:%a %d %b %H:%M %Z}" for r in next_runs(obj.config))
            return f"Next runs: {runs}"
        return "—"

    def _may_change(self, obj) -> bool:
        request = getattr(self, "request", None)
        return request is not None and authz.may(request.user, "change", obj.workflow)


EXAMPLE_BODY = '{"hello": "world"}'


def webhook_example(trigger: Trigger, *, reveal: bool) -> tuple[str, str, str]:
    """The hook's URL, a curl command that delivers to it (signed when `reveal`), and a note on the headers."""
    import shlex

    from integrations.webhooks import SCHEMES, sign

    url = settings.SITE_URL.rstrip("/") + f"/api/hooks/{trigger.token}/"
    scheme = trigger.auth_scheme
    headers = {"Content-Type": "application/json"}
    note = ""
    if scheme != "none":
        if trigger.secrets and reveal:
            headers |= sign(
                scheme,
                body=EXAMPLE_BODY.encode(),
                secret=trigger.secrets[0],
                url=url,
                header=trigger.config.get("header"),
            )
            if scheme not in ("token", "hmac_sha256", "shopify", "woocommerce"):
                note = "(signed now: the signature's timestamp is accepted for 5 minutes)"
        else:
            placeholder = sign(scheme, body=b"", secret="x", url=url, header=trigger.config.get("header"))
            headers |= dict.fromkeys(placeholder, "…")
            note = (
                f"(add the {SCHEMES[scheme]} header signed with this webhook's secret)"
                if trigger.secrets
                else "(no secret yet: set one under New secret, or every delivery is refused)"
            )
    parts = ["curl", "-X", "POST", url, *[p for k, v in headers.items() for p in ("-H", f"{k}: {v}")]]
    return url, shlex.join([*parts, "-d", EXAMPLE_BODY]), note


class VersionInline(admin.TabularInline):
    model = WorkflowVersion
    SHOWN = 20  # the latest versions; Workflows → Versions lists them all
    verbose_name_plural = f"Versions (the latest {SHOWN})"
    extra = 0
    can_delete = False
    fields = ("number", "note", "created_by", "created_at", "activated_at")
    readonly_fields = fields
    ordering = ("-number",)
    show_change_link = True
    classes = ("collapse",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(RulesAdmin):
    formfield_overrides = STRICT_JSON  # sample_input: deep nesting or NaN is a form error, not a 500
    list_display = (
        "name",
        "status_badge",
        "active_version_number",
        "step_count",
        "runs",
        "failed_runs",
        "owner",
        "updated",
    )
    list_filter = ("status",)
    search_fields = ("name", "description")
    readonly_fields = ("status", "active_version", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "description", "owner", ("status", "active_version"))}),
        (
            "Settings",
            {
                "fields": (
                    ("timeout_seconds", "count_paused_time", "on_failure"),
                    "activation_review",
                    ("concurrency_limit", "concurrency_overflow"),
                    "concurrency_key",
                    "sample_input",
                )
            },
        ),
    )
    folded_fieldsets = (
        ("Name, description and owner", {"classes": ("collapse",), "fields": fieldsets[0][1]["fields"]}),
        ("Settings", {"classes": ("collapse",), "fields": fieldsets[1][1]["fields"]}),
    )
    inlines = (StepInline, TriggerInline, VersionInline)
    actions = ("pause_selected",)
    change_form_template = "admin/workflows/workflow/change_form.html"

    def get_fieldsets(self, request, obj=None):
        """A saved workflow opens on its flow and steps: name and settings fold (a field with an error opens them)."""
        return self.folded_fieldsets if obj is not None else self.fieldsets

    def changelist_view(self, request, extra_context=None):
        request.faos_counted = True  # the list's rows show their steps, runs and failed runs
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        """The workflows, counted only for the list: a workflow's page has no use for counting its 25,000 runs."""
        queryset = super().get_queryset(request).select_related("owner", "active_version")
        if not getattr(request, "faos_counted", False):
            return queryset
        return queryset.annotate(
            _steps=count_of(Step.objects.all(), "workflow"),
            _runs=count_of(Execution.objects.all(), "workflow"),
            _failed=count_of(Execution.objects.failed(), "workflow"),
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="faos-badge faos-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Active version", ordering="active_version__number")
    def active_version_number(self, obj):
        return f"v{obj.active_version.number}" if obj.active_version else "—"

    @admin.display(description="Steps", ordering="_steps")
    def step_count(self, obj):
        return obj._steps

    @admin.display(description="Runs", ordering="_runs")
    def runs(self, obj):
        url = reverse("admin:executions_execution_changelist") + f"?workflow__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj._runs)

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, obj):
        return short_datetime(obj.updated_at)

    @admin.display(description="Failed", ordering="_failed")
    def failed_runs(self, obj):
        return obj._failed

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        """The Run and Activate buttons show only to people who may press them."""
        context |= {
            "faos_may_run": authz.may(request.user, "run", obj or Workflow),
            "faos_may_activate": authz.may(request.user, "activate", obj or Workflow),
            "faos_pending_activation": obj and obj.activation_requests.filter(status="pending").first(),
            "faos_may_replay": obj is not None and authz.may(request.user, "replay", obj),
        }
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def has_activate_permission(self, request, obj=None):
        return authz.may(request.user, "activate", obj or Workflow)

    @admin.action(description="Pause selected workflows", permissions=["activate"])
    def pause_selected(self, request, queryset):
        for workflow in queryset:
            workflow_set_status(workflow=workflow, status=Workflow.Status.PAUSED, user=request.user)
        self.message_user(request, f"Paused {queryset.count()} workflow(s).", messages.SUCCESS)

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        wrappers = super().get_inline_formsets(request, formsets, inline_instances, obj)
        return [StepsAdminFormSet.of(w) if isinstance(w.opts, StepInline) else w for w in wrappers]

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, VersionInline) and obj is not None and obj.pk:  # activated 1,000 times: 20 rows
            latest = obj.versions.order_by("-number").values("pk")[: VersionInline.SHOWN]
            kwargs["queryset"] = inline.get_queryset(request).filter(pk__in=latest)
        return kwargs

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Trigger:
            for trigger in formset.queryset.model.objects.filter(workflow=form.instance):
                trigger_sync(trigger=trigger)  # keep django-celery-beat's PeriodicTask in step

    def save_model(self, request, obj, form, change):
        if not change and obj.owner is None:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
        if change and {"concurrency_limit", "concurrency_key"} & set(form.changed_data):
            from executions.services import executions_start_queued

            started = executions_start_queued(workflow=obj)  # a raised limit lets queued runs go at once
            if started:
                self.message_user(request, f"{len(started)} queued run(s) started under the new limit.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/run/", view(self.run_view), name="workflows_workflow_run"),
            path("<int:pk>/activate/", view(self.activate_view), name="workflows_workflow_activate"),
            path("<int:pk>/validate/", view(self.validate_view), name="workflows_workflow_validate"),
            path("<int:pk>/status/", view(require_POST(self.status_view)), name="workflows_workflow_status"),
            path("trigger-preview/", view(self.trigger_preview_view), name="workflows_workflow_trigger_preview"),
            path("step-reference/", view(self.step_reference_view), name="workflows_workflow_step_reference"),
            *replay_admin.urls(self),  # Replay history: pick past runs, then the side-by-side report
            path("<int:pk>/step-forms/", view(self.step_forms_view), name="workflows_workflow_stepforms"),
        ] + super().get_urls()

    def step_forms_view(self, request, pk):
        return step_forms_view(self, request, pk)

    def step_reference_view(self, request):
        """Every step kind and action: settings, branches and an example (the same as docs/steps.md)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Step reference",
            "common": step_reference.common_fields(),
            "old_spellings": step_reference.old_spellings(),
            "kinds": step_reference.kind_entries(),
            "actions": step_reference.action_entries(),
        }
        return TemplateResponse(request, "admin/workflows/workflow/step_reference.html", context)

    def trigger_preview_view(self, request):
        """GET ?config=<json>: a schedule's next five runs (within its start and end) for the form, or why not."""
        from datetime import datetime

        from django.http import JsonResponse
        from django.utils import timezone

        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            config = json_parse(request.GET.get("config") or "{}")  # deep nesting too: an answer, not a 500
        except ValueError:
            return JsonResponse({"errors": {"config": "is not valid JSON"}})
        problems = trigger_problems(Trigger.Kind.SCHEDULE, config)
        if problems:  # an answer about the config, not a bad request: no warning in the log for each keystroke
            return JsonResponse({"errors": problems})
        start, end = (config.get(f) and datetime.fromisoformat(config[f]) for f in ("start", "end"))
        start, end = (m if not m or timezone.is_aware(m) else timezone.make_aware(m) for m in (start, end))
        runs = next_runs(config, start=max(start, timezone.now()) if start else None)
        runs = [run for run in runs if not end or run <= end]
        answer = [{"at": run.isoformat(), "label": f"{run:%a %d %b %Y, %H:%M %Z}"} for run in runs]
        return JsonResponse({"runs": answer, "ended": bool(end and len(runs) < 5)})

    def run_view(self, request, pk):
        """Manual trigger: a JSON input box; malformed JSON is a form error."""
        workflow = get_object_or_404(self.get_queryset(request), pk=pk)
        if not authz.may(request.user, "run", workflow):
            raise PermissionDenied
        test_run = workflow.status != Workflow.Status.ACTIVE  # a live workflow opens as a live run, waits real
        initial = {"input": _pretty(workflow.sample_input), "test_run": test_run, "fast_forward": test_run}
        form = RunWorkflowForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                execution = execution_start(
                    workflow=workflow,
                    input=form.cleaned_data["input"],
                    user=request.user,
                    is_test=form.cleaned_data["test_run"],
                    source=f"admin:{request.user.get_username()}",
                    trigger_meta=test_run_options(is_test=form.cleaned_data["test_run"], options=form.cleaned_data),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, f"Started run #{execution.pk}.", messages.SUCCESS)
                return redirect("admin:executions_execution_change", execution.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": workflow,
            "title": f"Run {workflow.name}",
            "form": form,
        }
        return TemplateResponse(request, "admin/workflows/workflow/run.html", context)

    def activate_view(self, request, pk):
        workflow = get_object_or_404(self.get_queryset(request), pk=pk)
        if not authz.may(request.user, "activate", workflow):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:workflows_workflow_change", pk)
        try:
            outcome = activation_start(workflow=workflow, user=request.user)  # live now, or asked in the inbox
        except WorkflowInvalid as exc:
            for problem in exc.problems:
                self.message_user(request, problem_message(workflow=workflow, problem=problem), messages.ERROR)
            self.message_user(request, "Not activated: fix the problems above first.", messages.ERROR)
        else:
            tell_outcome(self, request, outcome)
        return redirect("admin:workflows_workflow_change", pk)

    def status_view(self, request, pk):
        """Pause (triggers stop starting runs), resume the active version, or archive; runs in flight go on."""
        workflow = get_object_or_404(self.get_queryset(request), pk=pk)
        if not authz.may(request.user, "activate", workflow):
            raise PermissionDenied
        what = request.POST.get("what")
        if what == "resume" and workflow.active_version:
            workflow_activate(workflow=workflow, user=request.user, version=workflow.active_version)
            self.message_user(request, f"Resumed: v{workflow.active_version.number} takes new runs again.")
        elif what in ("pause", "archive"):
            status = Workflow.Status.PAUSED if what == "pause" else Workflow.Status.ARCHIVED
            workflow_set_status(workflow=workflow, status=status, user=request.user)
            in_flight = workflow.executions.unfinished().count()
            self.message_user(
                request, f"{workflow.get_status_display()}: no new runs start; {in_flight} in flight go on."
            )
        else:
            self.message_user(request, "Nothing to do.", messages.WARNING)
        return redirect("admin:workflows_workflow_change", pk)

    def validate_view(self, request, pk):
        workflow = get_object_or_404(self.get_queryset(request), pk=pk)
        problems = workflow_validate(workflow=workflow)
        for problem in problems:
            self.message_user(request, problem_message(workflow=workflow, problem=problem), messages.ERROR)
        for note in workflow_deprecations(workflow=workflow):  # saving the step rewrites it in the current spelling
            self.message_user(request, note, messages.WARNING)
        if not problems:
            self.message_user(request, "No problems found: this workflow can be activated.", messages.SUCCESS)
        return redirect("admin:workflows_workflow_change", pk)


def _pretty(value) -> str:
    return json.dumps(value or {}, indent=2)
