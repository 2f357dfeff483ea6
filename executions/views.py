"""The page an e-mail's decision link opens: no login; GET shows what would be decided, only the POST (with CSRF)
decides, so a mail scanner that follows links decides nothing. The token names the person (decision_links.py)."""

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from workflows import authz

from .decision_links import Link, LinkError, link_decide, link_read, link_target
from .models import Approval, Task
from .slack import person_label

VERBS = {"approve": "Approve", "reject": "Reject", "complete": "Mark as done"}


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers
def decision_link_view(request, token: str):
    """Confirm, then decide for the person the link was sent to (every rule of the inbox applies)."""
    try:
        link = link_read(token)
        obj = link_target(link)
        _still_open(obj, link)
    except LinkError as exc:
        return _page(request, {"problem": exc}, exc.status)
    if request.method != "POST":
        return _page(request, _context(link, obj), 200)
    comment = request.POST.get("comment", "").strip()
    try:
        obj = link_decide(token=token, comment=comment)
    except LinkError as exc:
        if exc.status == 400:  # a reason is missing: the same page again, with the message at the field
            return _page(request, {**_context(link, obj), "error": str(exc), "comment": comment}, 400)
        return _page(request, {"problem": exc}, exc.status)
    return _page(request, {**_context(link, obj), "done": _outcome(obj, link)}, 200)


def _still_open(obj, link: Link) -> None:
    """Say so at once when there is nothing left to decide (the POST would refuse the same way)."""
    if isinstance(obj, Task) and obj.status != Task.Status.OPEN:
        raise LinkError("Already done", f"This task is already {obj.get_status_display().lower()}.", status=409)
    if isinstance(obj, Approval):
        if not authz.may(link.user, "decide", obj):
            raise LinkError("Not yours to decide", "You started this run, so someone else must approve it.", status=403)
        if obj.status != Approval.Status.PENDING:
            raise LinkError("Already decided", f"This request is already {obj.status}.", status=409)
        if obj.decisions.filter(user=link.user).exists():
            raise LinkError("Already decided", "You have already decided on this approval.", status=409)


def _outcome(obj, link: Link) -> str:
    if isinstance(obj, Task):
        return "Marked as done. The workflow goes on."
    if obj.status == Approval.Status.PENDING:
        got = obj.decisions.filter(decision="approve").count()
        return f"Your approval is recorded ({got} of {obj.required_approvals} needed so far)."
    return f"Recorded: {obj.get_status_display().lower()}. The workflow goes on."


def _context(link: Link, obj) -> dict:
    is_approval = isinstance(obj, Approval)
    admin_name = "admin:executions_approval_change" if is_approval else "admin:executions_task_change"
    return {
        "link": link,
        "obj": obj,
        "is_approval": is_approval,
        "verb": VERBS[link.decision],
        "person": person_label(link.user),
        "workflow": obj.execution.workflow.name if obj.execution_id else "",
        "open_url": reverse(admin_name, args=[obj.pk]),
        "hours": f"{settings.FAOS_DECISION_LINK_HOURS:g}",
    }


def _page(request, context: dict, status: int):
    context = {"title": context.get("verb") or "Decision link", **context}
    response = render(request, "executions/decision_link.html", context, status=status)
    # the token is in the address: never pass it to another site ("no-referrer" would make browsers send
    # Origin: null with the form, which CSRF protection rightly refuses)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response
