"""The admin index's summary: the guide's four numbers for the last 7 days and my pending approvals."""

from django import template

from workflows import authz

from ..admin.dashboard import metric_cards
from ..approvals import approvals_visible_to
from ..dashboard import cached, figures_stamp, overall_metrics

register = template.Library()
DAYS = 7


@register.inclusion_tag("admin/executions/index_summary.html", takes_context=True)
def faos_index_summary(context):
    """The overall aggregate (cached while no run starts or finishes) and my five oldest pending approvals."""
    user = context["request"].user
    if not authz.may(user, "view", "executions.dashboard"):  # company-wide numbers
        return {"show": False}
    overall = cached(overall_metrics, figures_stamp(), days=DAYS)
    pending = approvals_visible_to(user).filter(status="pending").order_by("created_at")[:5]
    has_runs = bool(overall["runs"] or overall["active"])
    return {"show": True, "days": DAYS, "has_runs": has_runs, "cards": metric_cards(overall), "pending": list(pending)}
