"""Admin for versions: immutable, with a readable diff from the previous one, activate (rollback) or copy to draft."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from .. import authz
from ..diff import version_diff
from ..io import dump
from ..models import WorkflowVersion
from ..querysets import count_of
from ..services import WorkflowInvalid, workflow_restore_draft
from .rules import RulesAdmin


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(RulesAdmin):
    list_display = ("__str__", "is_active_badge", "note", "created_by", "created_at", "activated_at", "runs_in_flight")
    list_filter = ("workflow",)
    fields = ("workflow", "number", "note", "created_by", "created_at", "activated_at", "changes", "definition_view")
    readonly_fields = fields
    change_form_template = "admin/workflows/workflowversion/change_form.html"

    def get_queryset(self, request):
        from executions.models import Execution

        return (
            super()
            .get_queryset(request)
            .select_related("workflow", "created_by")
            .annotate(_in_flight=count_of(Execution.objects.unfinished(), "version"))
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # versions are immutable: runs in flight depend on them

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Active", boolean=True)
    def is_active_badge(self, obj):
        return obj.is_active

    @admin.display(description="Runs in flight", ordering="_in_flight")
    def runs_in_flight(self, obj):
        return obj._in_flight

    @admin.display(description="Changes from the previous version")
    def changes(self, obj):
        previous = obj.workflow.versions.filter(number__lt=obj.number).order_by("-number").first()
        if previous is None:
            return "First version."
        return render_diff(version_diff(previous.definition, obj.definition), previous.number, obj.number)

    @admin.display(description="Definition")
    def definition_view(self, obj):
        return format_html('<pre class="faos-json">{}</pre>', dump(obj.definition))

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.version_action))
        return [path("<int:pk>/act/", view, name="workflows_workflowversion_act")] + super().get_urls()

    def version_action(self, request, pk):
        """Activate this version (a rollback) or copy it into the draft to make a new version from it."""
        version = get_object_or_404(authz.visible(request.user, WorkflowVersion).select_related("workflow"), pk=pk)
        workflow = version.workflow
        right = "change" if request.POST.get("what") == "draft" else "activate"
        if not authz.may(request.user, right, workflow):
            raise PermissionDenied
        if request.POST.get("what") == "draft":
            workflow_restore_draft(workflow=workflow, version=version)
            self.message_user(
                request, f"The draft now matches v{version.number}: edit it and activate.", messages.SUCCESS
            )
            return redirect("admin:workflows_workflow_change", workflow.pk)
        from ..activation import activation_start
        from .activations import tell_outcome

        try:
            outcome = activation_start(workflow=workflow, user=request.user, version=version)
        except WorkflowInvalid as exc:
            self.message_user(request, "; ".join(str(p) for p in exc.problems), messages.ERROR)
            return redirect("admin:workflows_workflowversion_change", pk)
        if not isinstance(outcome, WorkflowVersion):  # a rollback is reviewed like any other change of version
            tell_outcome(self, request, outcome)
            return redirect("admin:workflows_workflow_change", workflow.pk)
        others = workflow.executions.unfinished().exclude(version=version).count()
        self.message_user(
            request,
            f"Version {version.number} is active; {others} run(s) continue on other versions.",
            messages.SUCCESS,
        )
        return redirect("admin:workflows_workflow_change", workflow.pk)


def render_diff(diff: dict, old: int, new: int):
    """A readable diff: settings, steps added and removed, and changed fields with before/after."""
    parts = [format_html("<p>v{} → v{}</p>", old, new)]
    for label, keys in (("Added", diff["added"]), ("Removed", diff["removed"])):
        if keys:
            parts.append(format_html("<p><strong>{}:</strong> {}</p>", label, ", ".join(keys)))
    for scope, changes in [("settings", diff["settings"]), *diff["changed"].items()]:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><del>{}</del></td><td><ins>{}</ins></td></tr>",
            ((f, _short(c["from"]), _short(c["to"])) for f, c in changes.items()),
        )
        if changes:
            parts.append(format_html('<p><strong>{}</strong></p><table class="faos-diff">{}</table>', scope, rows))
    if diff["reordered"]:
        parts.append(mark_safe("<p>Steps were reordered.</p>"))
    return format_html_join("", "{}", ((p,) for p in parts)) if len(parts) > 1 else "No changes."


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "…"
