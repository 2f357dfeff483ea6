"""The approvals inbox: my pending approvals, one-click approve/reject with a comment, history."""

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from workflows import authz
from workflows.querysets import count_of

from ..approvals import ApprovalError, approval_decide, approval_delegate, approvals_visible_to
from ..models import Approval, ApprovalDecision
from .display import pretty_json
from .paging import RunDataDeferred


class DecisionInline(admin.TabularInline):
    model = ApprovalDecision
    extra = 0
    can_delete = False
    fields = readonly_fields = ("user", "decision", "comment", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    # narrow enough for Decide to stay inside a 1280 px window: status shares with approvals, waiting with due
    list_display = ("title", "amount_display", "may_decide", "workflow", "status_badge", "waiting", "decide")
    change_list_template = "admin/executions/approval/change_list.html"
    list_per_page = 50  # each row carries its own Decide form: a bounded page renders fast
    list_filter = ("status",)
    search_fields = ("title", "details")
    fields = (
        "title",
        "details",
        "amount_display",
        "workflow",
        "execution_link",
        "status_badge",
        "deciders",
        "due_at",
        "required_approvals",
        "comment",
        "decided_at",
        "trigger_data",
        "history",
    )
    readonly_fields = fields
    inlines = (DecisionInline,)
    actions = ("approve_selected", "reject_selected")
    change_form_template = "admin/executions/approval/change_form.html"

    def get_queryset(self, request):
        approvals = ApprovalDecision.objects.filter(decision=ApprovalDecision.Decision.APPROVE)
        return (
            approvals_visible_to(request.user)
            .annotate(_approvals=count_of(approvals, "approval"))  # a subquery: no join over every decision
            .prefetch_related("approvers", "approver_groups")  # who may decide, in two queries for the whole page
        )

    def get_changelist(self, request, **kwargs):
        return RunDataDeferred

    def changelist_view(self, request, extra_context=None):
        """Status tabs above the list instead of Django's filter column, which pushed Decide off the page."""
        current = request.GET.get("status__exact", "")
        tabs = [("", "All"), *Approval.Status.choices]
        extra_context = {
            **(extra_context or {}),
            "faos_status_tabs": [
                (label, f"?status__exact={value}" if value else "?", value == current) for value, label in tabs
            ],
        }
        return super().changelist_view(request, extra_context)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_ordering(self, request):
        return ("-status", "due_at", "-created_at")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return "—" if obj.amount is None else f"{obj.amount:,.2f} {obj.currency}".strip()

    @admin.display(description="Workflow")
    def workflow(self, obj):
        return obj.execution.workflow.name

    @admin.display(description="Run")
    def execution_link(self, obj):
        url = reverse("admin:executions_execution_change", args=[obj.execution_id])
        return format_html('<a href="{}">#{}</a>', url, obj.execution_id)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        css = {"pending": "waiting", "approved": "succeeded", "rejected": "failed"}.get(obj.status, obj.status)
        badge = format_html('<span class="faos-badge faos-{}">{}</span>', css, obj.get_status_display())
        if not hasattr(obj, "_approvals"):
            return badge
        return format_html(
            '{} <span class="faos-quiet" title="approvals so far / needed">{}</span>', badge, self.decided(obj)
        )

    @admin.display(description="Waiting", ordering="created_at")
    def waiting(self, obj):
        waited = timesince(obj.created_at, obj.decided_at or timezone.now())
        if obj.due_at is None or obj.status != Approval.Status.PENDING:
            return waited
        return format_html(
            '{}<br><span class="faos-quiet">due {}</span>', waited, date_format(localtime(obj.due_at), "j M H:i")
        )

    @admin.display(description="May decide")
    def may_decide(self, obj):
        """Named approvers and approver groups, from the prefetched rows (the detail page lists the people)."""
        names = [person_name(user) for user in obj.approvers.all()]
        groups = [f"{group.name} (group)" for group in obj.approver_groups.all()]
        return ", ".join(names + groups) or "Anyone who may decide any approval"

    @admin.display(description="Who may decide")
    def deciders(self, obj):
        """Everyone eligible (authz.eligible_deciders), each with why: named, or the group; the requester struck."""
        named = {user.pk for user in obj.approvers.all()}
        groups = {group.pk: group.name for group in obj.approver_groups.all()}
        decided = dict(obj.decisions.values_list("user_id", "decision"))
        rows = []
        for user in authz.eligible_deciders(obj).prefetch_related("groups").order_by("username"):
            why = ["named"] * (user.pk in named) + [groups[g.pk] for g in user.groups.all() if g.pk in groups]
            note = {"approve": "approved", "reject": "rejected"}.get(decided.get(user.pk), "")
            if user.pk == obj.requested_by_id and not obj.allow_requester:
                note = "started the run, so may not decide"
            rows.append((person_name(user), ", ".join(why), f" — {note}" if note else ""))
        if not rows:
            return "Nobody by name or group: only people who may decide any approval."
        return format_html('<ul class="faos-deciders">{}</ul>', format_html_join("", "<li>{} · {}{}</li>", rows))

    @admin.display(description="Decide")
    def decide(self, obj):
        """One click approves (the row's own form sits outside the list's form); rejecting asks for a reason."""
        if obj.status != Approval.Status.PENDING:
            return "—"
        detail = reverse("admin:executions_approval_change", args=[obj.pk])
        return format_html(
            '<button type="submit" form="decide-{}" name="decision" value="approve" class="button">'
            'Approve</button> <a href="{}#decision" class="button">Reject…</a>',
            obj.pk,
            detail,
        )

    @admin.display(description="Trigger data")
    def trigger_data(self, obj):
        return pretty_json(obj.execution.input)

    @admin.display(description="Approvals")
    def decided(self, obj):
        return f"{obj._approvals}/{obj.required_approvals}"

    @admin.action(description="Approve selected")
    def approve_selected(self, request, queryset):
        done = 0
        for approval in queryset:
            try:
                approval_decide(approval_id=approval.pk, user=request.user, decision="approve")
                done += 1
            except ApprovalError as exc:
                self.message_user(request, f"{approval.title}: {exc}", messages.WARNING)
        self.message_user(request, f"Approved {done} request(s).", messages.SUCCESS)

    @admin.action(description="Reject selected (asks for a reason)")
    def reject_selected(self, request, queryset):
        """Two steps like Django's delete action: ask for the reason, then reject each one."""
        comment = request.POST.get("comment", "").strip()
        if "apply" not in request.POST or not comment:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "approvals": queryset,
                "title": "Reject approvals",
                "missing": "apply" in request.POST,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/executions/approval/reject_selected.html", context)
        done = 0
        for approval in queryset:
            try:
                approval_decide(approval_id=approval.pk, user=request.user, decision="reject", comment=comment)
                done += 1
            except ApprovalError as exc:
                self.message_user(request, f"{approval.title}: {exc}", messages.WARNING)
        self.message_user(request, f"Rejected {done} request(s).", messages.SUCCESS)
        return None

    def get_urls(self):
        decide = self.admin_site.admin_view(require_POST(self.decide_view))
        return [path("<int:pk>/decide/", decide, name="executions_approval_decide")] + super().get_urls()

    def _delegate(self, request, pk):
        try:
            approval = approval_delegate(approval_id=pk, user=request.user, to_username=request.POST.get("to", ""))
        except ApprovalError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:executions_approval_change", pk)
        self.message_user(request, f"{approval.title}: passed to {request.POST.get('to')}.", messages.SUCCESS)
        return redirect("admin:executions_approval_changelist")

    def decide_view(self, request, pk):
        """POST only (CSRF-protected by the middleware): approve or reject with a comment."""
        get_object_or_404(approvals_visible_to(request.user), pk=pk)
        decision, comment = request.POST.get("decision", ""), request.POST.get("comment", "")
        if decision == "delegate":
            return self._delegate(request, pk)
        try:
            approval = approval_decide(approval_id=pk, user=request.user, decision=decision, comment=comment)
        except ApprovalError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:executions_approval_change", pk)
        outcome = "your approval is recorded" if approval.status == "pending" else approval.get_status_display().lower()
        self.message_user(request, f"{approval.title}: {outcome}.", messages.SUCCESS)
        return redirect("admin:executions_approval_changelist")


def person_name(user) -> str:
    """ "Maria Lopez (maria)", or the username alone when no name is set."""
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()
