"""The run page's step runs, a read-only inline whose rows are written here from its queryset: through the admin's
machinery each row cost a form, a wrapper per cell and a template per hidden input (~2 ms a row)."""

from django.contrib.admin.helpers import flatten_fieldsets
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import FieldDoesNotExist
from django.forms.models import BaseInlineFormSet
from django.template.defaultfilters import linebreaksbr
from django.utils.html import conditional_escape, format_html, format_html_join


class RowsFormSet(BaseInlineFormSet):
    """A read-only inline's formset that builds no form: its rows are written from the queryset (step_run_rows).

    The management form still counts the rows; the page cannot be posted (no change permission)."""

    @property
    def forms(self):
        return []


def step_run_rows(admin_formset) -> str:
    """The inline's <tr>s as Django's tabular.html writes them for a view-only inline, cell for cell."""
    inline, formset = admin_formset.opts, admin_formset.formset
    empty = inline.get_empty_value_display()
    cells = [_cell_reader(inline, name, empty) for name in flatten_fieldsets(admin_formset.fieldsets)]
    fk = formset.fk.name
    rows = []
    for index, run in enumerate(formset.get_queryset()):
        prefix = f"{formset.prefix}-{index}"
        rows.append(
            format_html(
                '<tr class="form-row has_original" id="{}"><td class="original"><p>{}</p>{}{}</td>{}'
                '<td class="delete"></td></tr>',
                prefix,
                run,
                _hidden(f"{prefix}-id", run.pk),
                _hidden(f"{prefix}-{fk}", formset.instance.pk),
                format_html_join("", '<td class="field-{}"><p>{}</p></td>', ((n, read(run)) for n, read in cells)),
            )
        )
    return format_html_join("\n", "{}", ((row,) for row in rows))


def _cell_reader(inline, name: str, empty: str):
    """(name, obj -> the cell's HTML) as AdminReadonlyField.contents shows a model field or an admin method."""
    try:
        field = inline.model._meta.get_field(name)
    except FieldDoesNotExist:
        method = getattr(inline, name)

        def read(obj):
            value = method(obj)
            return conditional_escape(value if hasattr(value, "__html__") else linebreaksbr(value))

    else:

        def read(obj):
            return conditional_escape(linebreaksbr(display_for_field(getattr(obj, name), field, empty)))

    return name, read


def _hidden(name: str, value) -> str:
    return format_html('<input type="hidden" name="{}" value="{}" id="id_{}">', name, value, name)
