"""The steps of the workflow page: a saved step renders folded, as its title bar and a few hidden inputs, and its
form is fetched when it opens (the page costs about the same with 5 steps or 100); a folded step saves as it is."""

import html

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import InlineAdminForm, InlineAdminFormSet, flatten_fieldsets
from django.forms.models import BaseInlineFormSet
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils.functional import cached_property
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from .. import authz
from ..models import Step, Workflow
from ..variables import available_variables
from .forms import StepInlineForm
from .rules import PartInlineMixin

FOLDED = "folded"  # steps-N-folded=1: the row was never opened, so its saved values stand in for its fields
POSTED_WHEN_FOLDED = ("position",)  # a folded row still posts its position: it moves up and down folded
MAX_ROWS = 200  # forms in one answer (Open all on a very long workflow asks in several)


def untouched_data(form) -> dict[str, str]:
    """What a browser posts for this unbound form left as it rendered: each field's initial value as text."""
    data = {}
    for name, field in form.fields.items():
        bound = form[name]
        value = bound.value()
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = str(value)
        if field.show_hidden_initial and bound.html_name in data:  # a callable default posts its initial beside
            data[bound.html_initial_name] = data[bound.html_name]
    return data


class FoldedRow:
    """A saved step on a GET, standing in for its form: what its folded row renders (a form costs ~0.5 ms)."""

    faos_folded = True
    is_bound = False
    errors: dict = {}
    initial: dict = {}  # the admin reads it as a view-only form's cleaned data
    media = forms.Media()

    def __init__(self, prefix: str, step: Step):
        self.prefix, self.instance = prefix, step

    def is_multipart(self) -> bool:
        return False


class PartFormSet(BaseInlineFormSet):
    """A workflow part's formset (steps, triggers) whose empty form, for "Add another", is built once per page."""

    @cached_property
    def empty_form(self):
        return super().empty_form  # Django builds a new one each time it is asked: five times a page


class StepFormSet(PartFormSet):
    """Steps whose rows stayed folded post no fields: their saved values are filled in before validation."""

    fold = False  # StepInline.get_formset turns it on for a saved workflow's page
    editor_page = None  # the page's step-editor data, written once (widgets.EditorPage)

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        if self.is_bound:
            self.data = self._with_folded_values(self.data)

    def _folded_prefixes(self, data) -> list[str]:
        prefixes = (self.add_prefix(i) for i in range(self.initial_form_count()))
        return [prefix for prefix in prefixes if data.get(f"{prefix}-{FOLDED}")]

    def _with_folded_values(self, data):
        """The POST plus, for each folded row, every field it did not post, as its unchanged form would have."""
        folded = self._folded_prefixes(data)
        if not folded:
            return data
        data = data.copy()
        for prefix in folded:
            try:
                step = self._existing_object(int(data.get(f"{prefix}-id", "")))
            except ValueError:
                step = None
            if step is None:  # deleted meanwhile, or tampered with: Django's own checks answer for that row
                continue
            unbound = self.form(instance=step, prefix=prefix, **self.get_form_kwargs(None))
            for name, value in untouched_data(unbound).items():
                if name.removeprefix("initial-").removeprefix(f"{prefix}-") not in POSTED_WHEN_FOLDED:
                    data[name] = value
        return data

    def _construct_form(self, i, **kwargs):
        saved = i < self.initial_form_count()
        if self.fold and saved and not self.is_bound:
            return FoldedRow(self.add_prefix(i), self.get_queryset()[i])
        form = super()._construct_form(i, **kwargs)
        form.faos_folded = self.fold and saved and self.is_bound and bool(self.data.get(f"{form.prefix}-{FOLDED}"))
        return form

    @property
    def media(self):
        return self.empty_form.media  # the first form may be a folded row, without the editor's scripts

    def is_multipart(self):
        return self.empty_form.is_multipart()


class StepsAdminFormSet(InlineAdminFormSet):
    """The steps' inline on the page, whose scripts and styles come from its open forms: Django asks every row,
    wrapping each folded one in a form wrapper with its fieldsets, for nothing (a folded row has no media)."""

    @classmethod
    def of(cls, wrapper: InlineAdminFormSet) -> "StepsAdminFormSet":
        steps = cls.__new__(cls)
        steps.__dict__.update(wrapper.__dict__)
        return steps

    @property
    def media(self):
        media = self.opts.media + self.formset.media
        for form in self.formset.forms:
            media += form.media  # a folded row's is empty
        return (media + self.formset.empty_form.media) if self.has_add_permission else media


class StepInline(PartInlineMixin, admin.StackedInline):
    model = Step
    form = StepInlineForm
    formset = StepFormSet
    extra = 0
    ordering = ("position", "id")
    readonly_fields = ("variables_help",)
    template = "admin/workflows/workflow/steps_inline.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workflow")

    def get_formset(self, request, obj=None, **kwargs):
        """Each page gets its own config widget, so the editor's data is written once into that page."""
        from .widgets import EditorPage, StepConfigWidget

        formset = super().get_formset(request, obj, **kwargs)
        formset.editor_page = EditorPage(obj)
        formset.form.base_fields["config"].widget = StepConfigWidget(page=formset.editor_page)
        formset.fold = obj is not None and request.GET.get("steps") != "open"  # ?steps=open: every form, JS off
        return formset

    @admin.display(description="Variables you can use")
    def variables_help(self, obj):
        """The names this step can read: trigger fields from the sample input, earlier steps, workflow, vars."""
        if obj is None or obj.pk is None:
            return "Save to see the variables available here."
        return format_html_join(" ", "<code>{}</code>", ((name,) for name in available_variables(obj)))

    fieldsets = (
        (None, {"fields": (("position", "key", "name", "kind"), "config", ("next_step", "branches"))}),
        (
            "Timeout, errors and retries",
            {
                "classes": ("collapse",),  # opens by itself when one of its fields has an error
                "fields": (
                    ("timeout_seconds", "on_error", "on_error_goto"),
                    (
                        "retry_max_attempts",
                        "retry_initial_delay",
                        "retry_multiplier",
                        "retry_max_delay",
                        "retry_jitter",
                    ),
                ),
            },
        ),
        ("Variables you can use", {"classes": ("collapse",), "fields": ("variables_help",)}),
    )


def requested_rows(text: str) -> list[tuple[int, int]]:
    """(index, step id) pairs from "3.17,4.18"; a malformed pair is dropped."""
    rows = []
    for pair in text.split(",")[:MAX_ROWS]:
        index, _, step = pair.partition(".")
        if index.isdigit() and step.isdigit():
            rows.append((int(index), int(step)))
    return rows


def step_forms_view(model_admin, request, pk):
    """GET ?rows=<index>.<step id>,…: those folded steps' forms as the page renders them, to fill in when opened."""
    workflow = get_object_or_404(authz.visible(request.user, Workflow), pk=pk)
    if not authz.may(request.user, "view", workflow):
        return JsonResponse({"error": "You may not see this workflow."}, status=403)
    inline = next(i for i in model_admin.get_inline_instances(request, workflow) if isinstance(i, StepInline))
    formset = inline.get_formset(request, workflow)(
        instance=workflow, prefix="steps", queryset=inline.get_queryset(request)
    )
    formset.editor_page.written = True  # the page holds the editor's data already
    formset.fold = False  # whole forms, this time
    wrapper = model_admin.get_inline_formsets(request, [formset], [inline], workflow)[0]
    readonly = wrapper.readonly_fields
    if not wrapper.has_change_permission:
        readonly += flatten_fieldsets(wrapper.fieldsets)
    forms_by_index = {}
    for index, step_id in requested_rows(request.GET.get("rows", "")):
        # only the forms asked for (formset.forms would build every step's)
        form = formset._construct_form(index) if index < formset.initial_form_count() else None
        if form is None or form.instance.pk != step_id:
            changed = "This workflow's steps changed since the page was loaded: reload the page to edit them."
            return JsonResponse({"error": changed}, status=409)
        admin_form = InlineAdminForm(formset, form, wrapper.fieldsets, {}, form.instance, readonly, model_admin=inline)
        # the prefix given, not looked up: a template's formset.prefix tries formset["prefix"], building every form
        context = {"inline_admin_form": admin_form, "index": index, "prefix": formset.prefix}
        forms_by_index[index] = render_to_string("admin/workflows/workflow/step_form.html", context, request)
    return JsonResponse({"forms": forms_by_index})


def summary(step: Step) -> str:
    """One line for a folded step read without JS: its kind (and action), where it goes next, what an error does."""
    action = step.config.get("action") if isinstance(step.config, dict) else None
    parts = [f"{step.kind}: {action}" if action else step.kind, f"then {step.next_step}" if step.next_step else ""]
    parts.append(f"on error: {step.get_on_error_display().lower()}" if step.on_error != Step.OnError.STOP else "")
    return " · ".join(part for part in parts if part)


def kind_label(kind: str) -> str:
    from executions.engine import kinds

    found = kinds.get(kind)
    return found.label if found is not None else kind


def _hidden(name: str, value) -> str:
    """A hidden input as the form's widget writes it (plain text: the row is marked safe whole)."""
    return f'<input type="hidden" name="{_e(name)}" value="{_e(value)}" id="id_{_e(name)}">'


def _e(value) -> str:
    """Django's escape() without its SafeString and lazy-text checks: ~30 values a folded row."""
    return html.escape(str(value))


def row_state(form) -> tuple[object, bool]:
    """(position, Delete ticked) of a folded row: as posted on a page shown again after an error, else as saved."""
    if isinstance(form, FoldedRow):
        return form.instance.position, False
    position = form["position"].value()
    return "" if position is None else position, bool(form["DELETE"].value())


def folded_row(admin_formset, admin_form) -> str:
    """A folded step's row: the title bar (with Delete) and hidden inputs, written here as plain text (a widget
    costs a template; format_html's checks were most of a folded row's cost)."""
    formset, form, step = admin_formset.formset, admin_form.form, admin_form.original
    prefix, (position, deleted) = form.prefix, row_state(form)
    delete = ""
    if formset.can_delete and admin_formset.has_delete_permission:
        name, checked = _e(f"{prefix}-DELETE"), " checked" if deleted else ""
        delete = (
            f'<span class="delete"><input type="checkbox" name="{name}" id="id_{name}"{checked}> '
            f'<label class="vCheckboxLabel inline" for="id_{name}">Delete</label></span>'
        )
    key, heading = _e(step.key), _e(capfirst(admin_formset.opts.verbose_name))
    return mark_safe(
        f'<div class="inline-related has_original faos-lazy" id="{_e(prefix)}" data-step="{_e(step.pk)}" '
        f'data-step-key="{key}" data-kind-label="{_e(kind_label(step.kind))}"><h3><b>{heading}:</b> '
        f'<span class="inline_label">{_e(step)}</span> {delete}</h3><div class="faos-step-body">'
        f"{_hidden(f'{prefix}-{FOLDED}', 1)}{_hidden(f'{prefix}-position', position)}"
        f'<p class="faos-step-summary">{_e(summary(step))} <a href="?steps=open#step={key}">Open every step\'s form</a>'
        f"</p></div>{_hidden(f'{prefix}-id', step.pk)}{_hidden(f'{prefix}-{formset.fk.name}', step.workflow_id)}</div>"
    )
