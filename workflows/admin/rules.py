"""Admin classes whose rights come from workflows.authz, the one place that says who may do what."""

from django.contrib import admin

from .. import authz


class RulesMixin:
    """A ModelAdmin that asks authz for view/add/change/delete and lists only the rows it may see."""

    def get_queryset(self, request):
        return authz.scope(request.user, super().get_queryset(request))

    def has_module_permission(self, request):
        return authz.may(request.user, "view", self.model)

    def has_view_permission(self, request, obj=None):
        return authz.may(request.user, "view", obj or self.model)

    def has_add_permission(self, request, *args):
        return authz.may(request.user, "add", self.model)

    def has_change_permission(self, request, obj=None):
        return authz.may(request.user, "change", obj or self.model)

    def has_delete_permission(self, request, obj=None):
        return authz.may(request.user, "delete", obj or self.model)


class RulesAdmin(RulesMixin, admin.ModelAdmin):
    """ModelAdmin with authz rights."""


class PartInlineMixin:
    """An inline for parts of a workflow (steps, triggers): editing them is changing the workflow."""

    def has_view_permission(self, request, obj=None):
        return authz.may(request.user, "view", obj or self.parent_model)

    def has_add_permission(self, request, obj=None):
        return authz.may(request.user, "change", obj or self.parent_model)

    def has_change_permission(self, request, obj=None):
        return authz.may(request.user, "change", obj or self.parent_model)

    def has_delete_permission(self, request, obj=None):
        return authz.may(request.user, "change", obj or self.parent_model)
