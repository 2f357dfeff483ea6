"""`{% folded_step_row … %}`, a folded step's row, and `{% empty_step_form … %}`, the fields "Add another" copies."""

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

register = template.Library()
EMPTY_FORM = "admin/workflows/workflow/step_form.html"
_EMPTY_FORMS: dict[tuple, str] = {}  # the empty form's fields, by what they depend on
KEPT = 64


@register.simple_tag
def folded_step_row(admin_formset, admin_form) -> str:
    from workflows.admin.steps import folded_row

    return folded_row(admin_formset, admin_form)


@register.simple_tag
def empty_step_form(admin_formset, admin_form, index: int) -> str:
    """The empty step's fields: no value and no workflow in them, so the same on every workflow page with as many
    steps (their ids number from it), kinds and rights. Written once per process for each (~20 ms a page before).

    The page's editor data is never written into them: the steps' inline writes it after the rows."""
    from workflows.admin.widgets import kind_choices

    formset = admin_formset.formset
    key = (index, formset.prefix, tuple(admin_form.readonly_fields), tuple(kind_choices()), get_language())
    if key not in _EMPTY_FORMS:
        page = formset.editor_page
        written, page.written = page.written, True
        try:
            context = {"inline_admin_form": admin_form, "index": index, "prefix": formset.prefix}
            html = render_to_string(EMPTY_FORM, context)
        finally:
            page.written = written
        if len(_EMPTY_FORMS) >= KEPT:
            _EMPTY_FORMS.clear()
        _EMPTY_FORMS[key] = html
    return mark_safe(_EMPTY_FORMS[key])
