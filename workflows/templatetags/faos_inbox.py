"""The inbox's Activations tab: how many activation requests wait for this person's decision."""

from django import template

from .. import authz
from ..activation import activations_visible_to

register = template.Library()


@register.simple_tag(takes_context=True)
def activations_to_decide(context) -> int:
    """Pending requests this person may approve (not their own, not ones they authored)."""
    user = context["request"].user
    pending = activations_visible_to(user).filter(status="pending")
    return sum(1 for request in pending if authz.may(user, "decide", request))
