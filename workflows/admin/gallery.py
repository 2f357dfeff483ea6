"""The template gallery: a card per template, "Use template" makes a draft workflow and opens it."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from .. import authz
from ..library import template_use
from ..models import WorkflowTemplate
from .rules import RulesAdmin


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(RulesAdmin):
    list_display = ("name", "category", "trigger_summary")
    list_filter = ("category",)
    search_fields = ("name", "description", "use_when")
    change_list_template = "admin/workflows/workflowtemplate/gallery.html"
    list_title = "Template gallery"  # faos.admin_site.ProductTitles
    readonly_fields = ("name", "category", "description", "use_when", "claim", "trigger_summary", "needs", "definition")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        templates = self.get_queryset(request)
        cards = [{"template": t, "steps": [s.get("name") for s in t.definition.get("steps", [])]} for t in templates]
        extra = {"cards": cards, "can_use": authz.may(request.user, "use", WorkflowTemplate), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def get_urls(self):
        use = self.admin_site.admin_view(require_POST(self.use_view))
        return [path("<int:pk>/use/", use, name="workflows_workflowtemplate_use")] + super().get_urls()

    def use_view(self, request, pk):
        template = get_object_or_404(self.get_queryset(request), pk=pk)
        if not authz.may(request.user, "use", template):
            raise PermissionDenied("You may not create workflows.")
        workflow = template_use(template=template, owner=request.user)
        messages.success(request, f"Created the draft '{workflow.name}': adapt it, test it, then activate it.")
        return redirect("admin:workflows_workflow_change", workflow.pk)
