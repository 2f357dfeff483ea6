"""The admin's JSON text boxes (run input, step and trigger config) refuse hostile JSON as a form error."""

from html import escape

import pytest
from django.core.exceptions import ValidationError

from workflows.admin.forms import StepInlineForm, TriggerInlineForm
from workflows.forms import RunWorkflowForm

HOSTILE = {
    "deep": ("[" * 10_000 + "]" * 10_000, "nested more than"),
    "nan": ('{"a": NaN}', "not a JSON number"),
    "infinity": ('{"a": 1e999}', "out of range"),
    "huge integer": ('{"a": ' + "9" * 5_000 + "}", "more than 100 digits"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_run_form_refuses_hostile_json_as_a_form_error(name):
    text, why = HOSTILE[name]
    form = RunWorkflowForm({"input": text})
    assert not form.is_valid() and why in str(form.errors["input"])


@pytest.mark.parametrize("name", HOSTILE)
def test_step_and_trigger_config_boxes_refuse_hostile_json_as_a_form_error(name):
    text, why = HOSTILE[name]
    for form_class in (StepInlineForm, TriggerInlineForm):
        field = form_class.base_fields["config"]
        with pytest.raises(ValidationError, match=why):
            field.clean(text)
        assert field.bound_data(text, None) is not None  # re-showing the typed text does not crash either


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOSTILE)
def test_a_refused_config_is_shown_again_as_typed_without_a_500(name):
    text, why = HOSTILE[name]
    form = StepInlineForm({"position": 0, "key": "greet", "name": "Greet", "kind": "action", "config": text})
    assert not form.is_valid() and why in str(form.errors["config"])
    assert escape(text[:50]) in str(form["config"])  # the textarea keeps what was typed (rendering parsed it strictly)


@pytest.mark.django_db
def test_every_json_box_in_the_admin_reads_json_strictly(rf, admin_user):
    """Walks every registered admin and inline: a plain forms.JSONField would 500 on deep nesting."""
    from django import forms
    from django.contrib import admin

    from faos.json_forms import StrictJSONFormField

    request = rf.get("/admin/")
    request.user = admin_user
    plain = []
    for model_admin in admin.site._registry.values():
        forms_ = [(model_admin, model_admin.get_form(request))]
        forms_ += [(inline, inline.get_formset(request).form) for inline in model_admin.get_inline_instances(request)]
        for owner, form in forms_:
            for name, field in form.base_fields.items():
                if isinstance(field, forms.JSONField) and not isinstance(field, StrictJSONFormField):
                    plain.append(f"{type(owner).__name__}.{name}")
    assert plain == []
