"""Header counts for the admin: my pending approvals, my open tasks, my unread notifications."""

from django.db.models import Count, Q


def faos_counts(request):
    """Three small aggregate queries, only for logged-in staff on admin pages."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff and request.path.startswith("/admin/")):
        return {}
    from .approvals import approvals_visible_to
    from .models import Notification
    from .tasks_service import tasks_for

    return {
        "faos_pending_approvals": approvals_visible_to(user).filter(status="pending").count(),
        "faos_open_tasks": tasks_for(user).filter(status="open").count(),
        "faos_unread": Notification.objects.filter(user=user).aggregate(n=Count("pk", filter=Q(read_at__isnull=True)))[
            "n"
        ],
    }
