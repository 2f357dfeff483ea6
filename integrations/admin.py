"""Admin for integrations: connections with write-only credentials and a "Test connection" action; a person's
Slack account on their user page."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from faos.json_forms import STRICT_JSON
from workflows import authz
from workflows.admin.rules import RulesAdmin

from . import connectors
from .actions import all_actions
from .forms import PREFIX, ConnectionForm, connection_form_for
from .models import Connection, KnowledgeArticle, SlackAccount
from .oauth import authorize_url
from .services import connection_test
from .views import callback_uri

SECRETS_NOTE = "secrets are stored encrypted and never shown again; leave a secret empty to keep the stored one."


def chosen_service(request, obj=None) -> connectors.Service | None:
    """The service whose fields the form shows: the one posted, asked for (?service=), or the connection's."""
    name = request.POST.get("service") or request.GET.get("service") or (obj.service if obj else "")
    return connectors.get_service(name)


@admin.register(Connection)
class ConnectionAdmin(RulesAdmin):
    form = ConnectionForm
    list_display = ("service_label", "name", "sensitivity", "status_badge", "last_tested_at", "last_error")
    list_filter = ("service", "sensitivity", "status")
    readonly_fields = ("status", "last_tested_at", "last_error", "stored")

    def get_fieldsets(self, request, obj=None):
        service = chosen_service(request, obj)
        inputs = [f"{PREFIX}{key}" for key in service.credential_fields] if service else []
        described = f"{service.label}: " if service else "Choose a service first: its fields appear here. "
        fieldsets = [
            (None, {"fields": ("service", "name", "sensitivity", "allowed_groups")}),
            ("Credentials", {"fields": (*inputs, "credential_values"), "description": described + SECRETS_NOTE}),
        ]
        if obj is not None:
            fieldsets.append(("Status", {"fields": ("status", ("last_tested_at", "last_error"), "stored")}))
        return fieldsets

    def response_add(self, request, obj, post_url_continue=None):
        """After Connect, open the connection so its Test connection button is one click away."""
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Saved {obj}. Press “Test connection” to check it.", messages.SUCCESS)
        return redirect("admin:integrations_connection_change", obj.pk)

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = connection_form_for(chosen_service(request, obj))
        return super().get_form(request, obj, **kwargs)

    actions = ("test_selected",)

    @admin.display(description="Service", ordering="service")
    def service_label(self, obj):
        service = connectors.get_service(obj.service)
        return service.label if service else obj.service

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        css = {"ok": "succeeded", "failed": "failed"}.get(obj.status, "pending")
        return format_html('<span class="faos-badge faos-{}">{}</span>', css, obj.get_status_display())

    @admin.display(description="Stored credentials")
    def stored(self, obj):
        names = ", ".join(sorted(obj.credentials)) if obj and obj.credentials else "none"
        return f"{names} (values hidden)"

    change_list_template = "admin/integrations/connection/change_list.html"
    change_form_template = "admin/integrations/connection/change_form.html"

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        service = connectors.get_service(obj.service) if obj else None
        context |= {"faos_service": service, "faos_redirect_uri": callback_uri() if service and service.oauth else ""}
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def get_urls(self):
        catalog = self.admin_site.admin_view(self.catalog_view)
        oauth = self.admin_site.admin_view(self.oauth_start_view)
        test = self.admin_site.admin_view(require_POST(self.test_view))
        return [
            path("services/", catalog, name="integrations_connection_services"),
            path("<int:pk>/oauth/", oauth, name="integrations_connection_oauth"),
            path("<int:pk>/test/", test, name="integrations_connection_test"),
        ] + super().get_urls()

    def test_view(self, request, pk):
        """The change page's Test connection button (POST): call the service, say what happened."""
        connection = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        self.test_selected(request, Connection.objects.filter(pk=pk))
        return redirect("admin:integrations_connection_change", pk)

    def oauth_start_view(self, request, pk):
        """Send the user to the provider's consent screen; the callback stores the tokens."""
        connection = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        try:
            return redirect(authorize_url(connection=connection, redirect_uri=callback_uri(), user=request.user))
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:integrations_connection_change", pk)

    def catalog_view(self, request):
        """Every connector with its category and whether it is connected (one query for the statuses)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        statuses = {}
        for service, status in Connection.objects.values_list("service", "status"):
            statuses.setdefault(service, []).append(status)
        cards = [
            {
                "service": s,
                "connections": statuses.get(s.name, []),
                "actions": [a for a in all_actions() if a.name.startswith(f"{s.name}.")],
            }
            for s in connectors.services()
        ]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Integrations", "cards": cards}
        return TemplateResponse(request, "admin/integrations/connection/services.html", context)

    def get_changeform_initial_data(self, request):
        return {"service": request.GET.get("service", ""), "name": "default"}

    @admin.action(description="Test connection", permissions=["change"])
    def test_selected(self, request, queryset):
        for connection in queryset:
            ok, error = connection_test(connection=connection)
            level = messages.SUCCESS if ok else messages.ERROR
            self.message_user(request, f"{connection}: {'OK' if ok else error}", level)


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(RulesAdmin):
    formfield_overrides = {  # deep nesting or NaN is a form error, not a 500; "help.example.com" means https
        **STRICT_JSON,
        models.URLField: {"assume_scheme": "https"},
    }
    list_display = ("title", "is_published", "updated_at")
    list_filter = ("is_published",)
    search_fields = ("title", "body")


User = get_user_model()


class SlackAccountInline(admin.StackedInline):
    """The person's Slack member ID on their user page: whose presses on Approve / Reject count as theirs."""

    model = SlackAccount
    extra = 0
    max_num = 1
    fields = ("member_id", "team_id")
    verbose_name = verbose_name_plural = "Slack account (decides from Slack's buttons)"

    def _may(self, request, obj=None) -> bool:
        return authz.may(request.user, "change", obj or User)  # as editing the person

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = _may


_PeopleAdmin = type(admin.site._registry[User]) if admin.site.is_registered(User) else UserAdmin  # Django's


class PersonAdmin(_PeopleAdmin):
    """The user page as registered before (Django's), with the person's Slack account under it."""

    inlines = (*_PeopleAdmin.inlines, SlackAccountInline)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PersonAdmin)
