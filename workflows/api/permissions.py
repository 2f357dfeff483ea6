"""The API's one permission class: each view names its model and a right per action; workflows.authz decides.

    class WorkflowViewSet(viewsets.ModelViewSet):
        permission_classes = (Rules,)
        authz_model = "workflows.workflow"
        authz_actions = {"list": "view", "run": "run", "duplicate": ("add", "view")}

A right is "name" (the same for the kind and the row) or ("for the kind", "for the row"); an action
missing from the map is refused, so a new endpoint without a rule cannot slip through.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .. import authz

DEFAULT_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
    "metadata": "view",  # OPTIONS: what the endpoint accepts (DRF asks again for each method it lists)
}


def right_for(view, request) -> tuple[str, str] | None:
    """(the right on the kind, the right on the row) this request needs, or None when no rule exists."""
    actions = {**DEFAULT_ACTIONS, **getattr(view, "authz_actions", {})}
    action = getattr(view, "action", None) or ""
    if action == "metadata" and request.method != "OPTIONS":  # OPTIONS asks: would this method be allowed?
        action = getattr(view, "action_map", {}).get(request.method.lower(), "")
    right = actions.get(action)
    if isinstance(right, dict):
        right = right.get(request.method)
    if right is None:
        return None
    return (right, right) if isinstance(right, str) else right


class Rules(BasePermission):
    """Ask workflows.authz for the view's model and the action's right; no rule means no access."""

    message = "You do not have permission to do this."

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return False
        if view.action is None:
            return True  # a method the view does not have: DRF answers 405 (OPTIONS: metadata only)
        right = right_for(view, request)
        if right is None:
            return False
        if right[0] == "view" and view.authz_model in authz.VISIBLE:
            return True  # rows with owners: get_queryset scopes them, so another person's row is a 404
        return authz.may(request.user, right[0], view.authz_model)

    def has_object_permission(self, request, view, obj) -> bool:
        right = right_for(view, request)
        return right is not None and authz.may(request.user, right[1], obj)
