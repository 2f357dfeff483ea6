"""The default groups (roles): who edits workflows, who decides approvals, who only watches.

workflows.authz turns these permissions, plus each row's own rules, into yes or no.
"""

from django.contrib.auth.models import Group, Permission

GROUPS = {
    "Workflow editors": {
        "workflows": [
            "add_workflow",
            "change_workflow",
            "delete_workflow",
            "view_workflow",
            "run_workflow",
            "activate_workflow",
            "view_workflowversion",
            "add_step",
            "change_step",
            "delete_step",
            "view_step",
            "add_trigger",
            "change_trigger",
            "delete_trigger",
            "view_trigger",
            "view_workflowtemplate",
            "view_agent",
            "add_agent",
            "change_agent",
        ],
        "executions": ["view_execution", "view_steprun"],
        "integrations": [
            "view_connection",
            "add_connection",
            "change_connection",
            "use_connection",
            "view_knowledgearticle",
        ],
    },
    "Approvers": {
        "workflows": ["view_workflow"],
        "executions": ["view_execution", "view_steprun", "view_approval"],
    },
    "Viewers": {
        "workflows": ["view_workflow", "view_workflowversion", "view_step", "view_trigger", "view_workflowtemplate"],
        "executions": ["view_execution", "view_steprun"],
    },
}


def ensure_default_groups(group_model=Group, permission_model=Permission) -> None:
    """Create the groups with their permissions (idempotent; the migration and `make run` call it)."""
    for name, by_app in GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        for app_label, codenames in by_app.items():
            found = permission_model.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            group.permissions.add(*found)
