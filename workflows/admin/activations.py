"""The Activations tab of the approvals inbox: versions waiting for a second editor, with their diff."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from .. import authz
from ..activation import (
    ActivationError,
    activation_decide,
    activation_diff,
    activation_is_stale,
    activation_replay_report,
    activations_visible_to,
    refusal,
)
from ..models import ActivationRequest, WorkflowVersion
from ..services import WorkflowInvalid
from .problem_links import problem_message
from .rules import RulesAdmin
from .versions import render_diff

CSS = {"pending": "waiting", "approved": "succeeded", "rejected": "failed"}


def tell_outcome(modeladmin, request, outcome) -> None:
    """After Activate: live now, or asked in the inbox (with a link to the request)."""
    if isinstance(outcome, WorkflowVersion):
        modeladmin.message_user(request, f"Activated version {outcome.number}; new runs use it.", messages.SUCCESS)
        return
    url = reverse("admin:workflows_activationrequest_change", args=[outcome.pk])
    modeladmin.message_user(
        request,
        format_html(
            'Version {} needs a second editor’s approval ({}): <a href="{}">asked in the inbox</a>. '
            "It goes live when another editor approves it.",
            outcome.version.number,
            "; ".join(outcome.reasons),
            url,
        ),
        messages.WARNING,
    )


@admin.register(ActivationRequest)
class ActivationRequestAdmin(RulesAdmin):
    list_title = "Activations"
    list_display = ("title", "status_badge", "requested_by", "waiting", "stale_flag")
    list_display_links = ("title",)
    search_fields = ("workflow__name",)
    fields = (
        "workflow_link",
        "version_link",
        "status_badge",
        "why",
        "requested_by",
        "last_author",
        "created_at",
        "decided_by",
        "decided_at",
        "comment",
        "changes",
    )
    readonly_fields = fields
    change_list_template = "admin/workflows/activationrequest/change_list.html"
    change_form_template = "admin/workflows/activationrequest/change_form.html"

    def get_queryset(self, request):
        return activations_visible_to(request.user)

    def get_ordering(self, request):
        return ("-status", "-created_at")  # pending first, newest first

    def changelist_view(self, request, extra_context=None):
        """Status tabs above the list, as in the approvals inbox."""
        current = request.GET.get("status__exact", "")
        tabs = [("", "All"), *ActivationRequest.Status.choices]
        extra_context = {
            **(extra_context or {}),
            "faos_status_tabs": [(label, f"?status__exact={v}" if v else "?", v == current) for v, label in tabs],
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), **self._decision_context(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _decision_context(self, request, obj) -> dict:
        if obj is None:
            return {}
        pending = obj.status == ActivationRequest.Status.PENDING
        may_decide = pending and authz.may(request.user, "decide", obj)
        return {
            "faos_may_decide": may_decide,
            "faos_may_withdraw": pending and authz.may(request.user, "withdraw", obj),
            "faos_why_not": refusal(obj, request.user) if pending and not may_decide else "",
            "faos_stale": pending and activation_is_stale(obj),
            "replay_report": activation_replay_report(obj),  # §1's replay of past runs plugs in here
        }

    @admin.display(description="Activation", ordering="workflow__name")
    def title(self, obj):
        return f"{obj.workflow.name} v{obj.version.number}"

    @admin.display(description="Workflow")
    def workflow_link(self, obj):
        url = reverse("admin:workflows_workflow_change", args=[obj.workflow_id])
        return format_html('<a href="{}">{}</a>', url, obj.workflow.name)

    @admin.display(description="Version")
    def version_link(self, obj):
        url = reverse("admin:workflows_workflowversion_change", args=[obj.version_id])
        base = f" (replaces v{obj.base_version.number})" if obj.base_version_id else " (first activation)"
        return format_html('<a href="{}">v{}</a>{}', url, obj.version.number, base)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        css = CSS.get(obj.status, obj.status)
        return format_html('<span class="faos-badge faos-{}">{}</span>', css, obj.get_status_display())

    @admin.display(description="Why a second editor")
    def why(self, obj):
        reasons = ((reason[:1].upper() + reason[1:],) for reason in obj.reasons)
        return format_html_join(mark_safe("<br>"), "{}", reasons)

    @admin.display(description="Waiting", ordering="created_at")
    def waiting(self, obj):
        return timesince(obj.created_at, obj.decided_at or timezone.now())

    @admin.display(description="Draft changed since")
    def stale_flag(self, obj):
        if obj.status != ActivationRequest.Status.PENDING:
            return "—"
        return "yes: approving activates the reviewed version" if activation_is_stale(obj) else "no"

    @admin.display(description="Changes against the active version")
    def changes(self, obj):
        if obj.base_version_id is None:
            return f"First activation: every step is new ({', '.join(activation_diff(obj)['added']) or 'none'})."
        return render_diff(activation_diff(obj), obj.base_version.number, obj.version.number)

    def get_urls(self):
        decide = self.admin_site.admin_view(require_POST(self.decide_view))
        return [path("<int:pk>/decide/", decide, name="workflows_activationrequest_decide")] + super().get_urls()

    def decide_view(self, request, pk):
        """POST: approve (the version goes live), reject with a comment, or withdraw (the requester)."""
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        decision = request.POST.get("decision", "")
        if not authz.may(request.user, "withdraw" if decision == "withdraw" else "decide", obj):
            raise PermissionDenied
        try:
            obj = activation_decide(
                request_id=pk, user=request.user, decision=decision, comment=request.POST.get("comment", "")
            )
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:workflows_activationrequest_change", pk)
        except WorkflowInvalid as exc:
            for problem in exc.problems:
                self.message_user(request, problem_message(workflow=obj.workflow, problem=problem), messages.ERROR)
            self.message_user(request, "Not activated: fix the problems above first.", messages.ERROR)
            return redirect("admin:workflows_activationrequest_change", pk)
        self.message_user(request, f"{obj}: {obj.get_status_display().lower()}.", messages.SUCCESS)
        if obj.status == ActivationRequest.Status.APPROVED:
            return redirect("admin:workflows_workflow_change", obj.workflow_id)
        return redirect("admin:workflows_activationrequest_changelist")
