"""Admin for people's work: my tasks (mark done) and my notifications (mark read)."""

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from faos.admin_site import short_datetime

from ..models import Notification, Task
from ..tasks_service import task_complete, tasks_for
from .paging import RunDataDeferred


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "assigned_to", "status", "due", "workflow", "progress")
    list_filter = ("status",)
    list_per_page = 50
    search_fields = ("title", "description")
    fields = (
        "title",
        "description",
        "assigned_to",
        "status",
        "due_at",
        "checklist_view",
        "execution",
        "completed_by",
        "completed_at",
    )
    readonly_fields = fields
    actions = ("mark_done",)
    change_form_template = "admin/executions/task/change_form.html"

    def get_queryset(self, request):
        return tasks_for(request.user)

    def get_changelist(self, request, **kwargs):
        return RunDataDeferred

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    has_view_permission = lambda self, request, obj=None: self.has_module_permission(request)  # noqa: E731

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        return short_datetime(obj.due_at)

    @admin.display(description="Assigned to")
    def assigned_to(self, obj):
        return obj.assignee or obj.assignee_group or "—"

    @admin.display(description="Workflow")
    def workflow(self, obj):
        return obj.execution.workflow.name if obj.execution else "—"

    @admin.display(description="Checklist")
    def progress(self, obj):
        done = sum(1 for item in obj.checklist if item.get("done"))
        return f"{done}/{len(obj.checklist)}" if obj.checklist else "—"

    @admin.display(description="Checklist")
    def checklist_view(self, obj):
        items = "".join(f"<li>{'☑' if i.get('done') else '☐'} {{}}</li>" for i in obj.checklist)
        return format_html(f"<ul>{items}</ul>", *[i.get("text", "") for i in obj.checklist]) if obj.checklist else "—"

    @admin.action(description="Mark selected tasks done")
    def mark_done(self, request, queryset):
        for task in queryset:
            task_complete(task_id=task.pk, user=request.user)
        self.message_user(request, f"Marked {queryset.count()} task(s) done.", messages.SUCCESS)

    def get_urls(self):
        done = self.admin_site.admin_view(require_POST(self.done_view))
        return [path("<int:pk>/done/", done, name="executions_task_done")] + super().get_urls()

    def done_view(self, request, pk):
        task = get_object_or_404(tasks_for(request.user), pk=pk)
        task_complete(task_id=task.pk, user=request.user)
        self.message_user(request, f"'{task.title}' is done.", messages.SUCCESS)
        return redirect("admin:executions_task_changelist")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("text_link", "created_at", "read_at")
    list_filter = ("read_at",)
    actions = ("mark_read",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user=request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    has_view_permission = lambda self, request, obj=None: self.has_module_permission(request)  # noqa: E731

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    @admin.display(description="Notification")
    def text_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.url, obj.text) if obj.url else obj.text

    @admin.action(description="Mark selected as read")
    def mark_read(self, request, queryset):
        queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
