"""`{% folded_step_row inline_admin_formset inline_admin_form %}`: a folded step's row (workflows.admin.steps)."""

from django import template

register = template.Library()


@register.simple_tag
def folded_step_row(admin_formset, admin_form) -> str:
    from workflows.admin.steps import folded_row

    return folded_row(admin_formset, admin_form)
