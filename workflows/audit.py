"""Changes made through the API land in the same history as admin edits (the object's History page)."""

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry


def audit(*, user, obj, action: str, message: str = "") -> None:
    """Record who added, changed or deleted a workflow or trigger, and how."""
    flag = {"add": ADDITION, "change": CHANGE, "delete": DELETION}[action]
    text = message or {"add": "Added", "change": "Changed", "delete": "Deleted"}[action] + " through the API."
    LogEntry.objects.log_actions(user.pk, type(obj).objects.filter(pk=obj.pk), flag, text, single_object=True)
