"""faos.form_renderer writes inputs, selects, textareas, labels and empty error lists exactly as Django's templates
do: each case renders through both and compares the text."""

import datetime
from pathlib import Path

import django
import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.functional import lazy
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from faos.form_renderer import INPUTS, FormRenderer

FAST, DJANGO = FormRenderer(), DjangoTemplates()
TRICKY = 'a "quoted" <b>&amp; bold</b>'


def both(widget: forms.Widget, value, attrs=None) -> tuple[str, str]:
    return (
        widget.render("field-0", value, attrs, renderer=FAST),
        widget.render("field-0", value, attrs, renderer=DJANGO),
    )


PLAIN = [
    (forms.TextInput(), "plain"),
    (forms.TextInput(attrs={"class": "vTextField", "maxlength": 63, "required": True, "disabled": False}), TRICKY),
    (forms.TextInput(attrs={"aria-label": mark_safe("Safe &amp; sound"), "data-x": None}), ""),
    (forms.TextInput(), None),
    (forms.TextInput(), ("a", 1)),
    (forms.NumberInput(attrs={"min": 0}), 0),
    (forms.NumberInput(), 12345.5),
    (forms.HiddenInput(), 17),
    (forms.CheckboxInput(), True),
    (forms.CheckboxInput(attrs={"class": "x"}), False),
    (forms.EmailInput(), "ada@example.com"),
    (forms.PasswordInput(render_value=True), "s3cret<"),
    (forms.PasswordInput(), "s3cret"),
    (forms.DateInput(), datetime.date(2026, 12, 2)),
    (forms.DateTimeInput(), datetime.datetime(2026, 12, 2, 8, 5)),
    (forms.TimeInput(), datetime.time(8, 5)),
    (forms.URLInput(), "https://example.com/?a=1&b=2"),
    (forms.Textarea(), TRICKY),
    (forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}), ""),
    (forms.Textarea(), None),
    (forms.Textarea(), "\nstarts with a newline"),
    (forms.Select(choices=[("a", "A"), ("b", TRICKY), (3, "three")]), "b"),
    (forms.Select(choices=[("", "---------"), ("x", gettext_lazy("Lazy label"))]), ""),
    (forms.Select(choices=[("Group <1>", [("a", "A"), ("b", "B")]), ("c", "C")], attrs={"class": "k"}), "c"),
    (forms.SelectMultiple(choices=[(1, "one"), (2, "two")]), [1, 2]),
    (forms.NullBooleanSelect(), None),
]
WIDGETS = [*PLAIN, (forms.Select(choices=[(3, 4), (1000, 1000)]), 1000)]  # number labels: the template localizes


@pytest.mark.parametrize(("widget", "value"), WIDGETS, ids=range(len(WIDGETS)))
def test_a_widget_is_written_as_its_template_writes_it(widget, value):
    fast, slow = both(widget, value, {"id": "id_field-0"})
    assert fast == slow


@pytest.mark.parametrize("use_id", [True, False])
@pytest.mark.parametrize("label", ["Name", TRICKY, gettext_lazy("Lazy"), mark_safe("<i>Safe</i>")])
def test_a_label_is_written_as_its_template_writes_it(label, use_id):
    class Form(forms.Form):
        name = forms.CharField(label=label, required=False)

    form = Form(auto_id="id_%s" if use_id else False)
    fast = form["name"].label_tag(attrs={"class": "required"})
    form.renderer = DJANGO
    assert fast == form["name"].label_tag(attrs={"class": "required"})


@pytest.mark.parametrize("widget", [forms.RadioSelect, forms.CheckboxSelectMultiple, forms.Select])
def test_a_choice_field_and_its_label_are_written_as_the_templates_write_them(widget):
    class Form(forms.Form):
        mode = forms.ChoiceField(choices=[("last", "Last runs"), ("pick", TRICKY)], widget=widget)

    fast, slow = Form(renderer=FAST), Form(renderer=DJANGO)
    assert fast["mode"].label_tag() == slow["mode"].label_tag() and str(fast["mode"]) == str(slow["mode"])
    assert fast.as_div() == slow.as_div()


def test_error_lists_are_written_as_their_templates_write_them():
    class Form(forms.Form):
        name = forms.CharField()
        age = forms.IntegerField(required=False)

    for data in ({"name": "x"}, {"age": "nope"}):
        form, slow = Form(data, renderer=FAST), Form(data, renderer=DJANGO)
        assert form.is_valid() == slow.is_valid()
        assert str(form.errors) == str(slow.errors) and form.non_field_errors() == slow.non_field_errors()
        for name in ("name", "age"):
            assert str(form[name].errors) == str(slow[name].errors)
            assert form[name].errors.as_ul() == slow[name].errors.as_ul()
        assert form.as_div() == slow.as_div()


def test_a_value_the_template_would_localize_goes_through_the_template(settings):
    settings.USE_THOUSAND_SEPARATOR = True
    widget = forms.Select(choices=[(1000, 1000), (2, lazy(lambda: "two", str)())])
    fast, slow = both(widget, 1000)
    assert fast == slow and "1,000" in slow


def test_every_widget_written_here_is_still_an_input_in_this_django():
    templates = Path(django.__file__).parent / "forms" / "templates"
    for name in INPUTS:
        assert (templates / name).read_text() == '{% include "django/forms/widgets/input.html" %}\n', name


def test_plain_widgets_labels_and_empty_error_lists_render_no_template(monkeypatch):
    def no_template(self, template_name):
        raise AssertionError(f"rendered {template_name}")

    monkeypatch.setattr(FormRenderer, "get_template", no_template)
    for widget, value in PLAIN:
        assert widget.render("f", value, {"id": "id_f"}, renderer=FAST).startswith("<")

    class Form(forms.Form):
        name = forms.CharField(label="Name")

    form = Form(renderer=FAST)
    assert form["name"].label_tag() and form["name"].errors.as_ul() == ""
