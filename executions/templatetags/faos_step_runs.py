"""`{% step_run_rows inline_admin_formset %}`: the run page's step run rows (executions.admin.step_rows)."""

from django import template

from ..admin.step_rows import step_run_rows as rows

register = template.Library()


@register.simple_tag
def step_run_rows(admin_formset) -> str:
    return rows(admin_formset)
