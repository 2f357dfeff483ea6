"""Admin for agents and for every trigger at a glance (bulk enable/disable kept in step with Celery Beat)."""

from django.contrib import admin, messages

from faos.json_forms import STRICT_JSON

from .. import authz
from ..models import Agent, Trigger, Workflow
from ..triggers import trigger_sync
from .forms import TriggerInlineForm
from .rules import RulesAdmin


@admin.register(Agent)
class AgentAdmin(RulesAdmin):
    formfield_overrides = STRICT_JSON  # deep nesting or NaN is a form error, not a 500
    list_display = ("name", "role", "provider", "model", "allowed")
    list_filter = ("provider",)
    search_fields = ("name", "role", "instructions")
    fieldsets = (
        (None, {"fields": ("name", "role", "instructions")}),
        ("Model", {"fields": (("provider", "model"), ("temperature", "max_tokens"), "connection")}),
        (
            "Permissions",
            {
                "fields": ("allowed_actions",),
                "description": "Agent actions: classify, score, extract, draft_reply, summarize, decide, custom; "
                "plus any action name (e.g. send_email, slack.post_message) the agent may use.",
            },
        ),
    )

    @admin.display(description="Allowed actions")
    def allowed(self, obj):
        return ", ".join(obj.allowed_actions or []) or "—"


@admin.register(Trigger)
class TriggerAdmin(RulesAdmin):
    """All triggers at a glance; bulk enable/disable keeps their Celery Beat tasks in step."""

    list_display = ("__str__", "kind", "name", "is_enabled", "updated_at")
    list_filter = ("kind", "is_enabled")
    list_select_related = ("workflow",)
    search_fields = ("name", "workflow__name")
    actions = ("enable_selected", "disable_selected")
    form = TriggerInlineForm
    fields = ("workflow", "kind", "name", "config", "is_enabled", "new_secret")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "workflow":  # only workflows this person may see are offered
            kwargs["queryset"] = authz.visible(request.user, Workflow)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        authz.require(request.user, "change", obj.workflow)
        super().save_model(request, obj, form, change)
        trigger_sync(trigger=obj)

    @admin.action(description="Enable selected triggers", permissions=["change"])
    def enable_selected(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected triggers", permissions=["change"])
    def disable_selected(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool):
        for trigger in queryset:
            trigger.is_enabled = enabled
            trigger.save(update_fields=["is_enabled", "updated_at"])
            trigger_sync(trigger=trigger)
        self.message_user(
            request, f"{'Enabled' if enabled else 'Disabled'} {queryset.count()} trigger(s).", messages.SUCCESS
        )
