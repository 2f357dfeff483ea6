"""Django's form renderer, writing what its simplest templates write without rendering them.

A workflow page renders ~60 widgets and labels and ~140 error lists: each widget costs three template renders
(text.html, input.html, attrs.html). Here an empty error list is nothing, and an input, a select, a textarea or a
label is written in Python, character for character as Django's templates write it (tests/faos/test_form_renderer.py
holds them side by side). Anything else, or a value whose text a template would localize (a number shown as text),
goes through the templates.
"""

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData

ERROR_LISTS = ("django/forms/errors/list/", "django/forms/errors/dict/")
WIDGETS = "django/forms/widgets/"
INPUT_TYPES = ("checkbox", "color", "date", "datetime", "email", "file", "hidden", "number", "password", "search")
INPUTS = {f"{WIDGETS}{name}.html" for name in (*INPUT_TYPES, "tel", "text", "time", "url")}  # each includes input.html
SELECT, OPTION, TEXTAREA = f"{WIDGETS}select.html", f"{WIDGETS}select_option.html", f"{WIDGETS}textarea.html"
LABEL = "django/forms/label.html"


class NotPlain(Exception):
    """A value the template would show differently from its plain text: the template writes it."""


class FormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name.startswith(ERROR_LISTS) and not context.get("errors"):
            return ""
        write = WRITERS.get(template_name)
        if write is not None:
            try:
                return write(context).strip()  # as BaseRenderer.render strips
            except NotPlain:
                pass
        return super().render(template_name, context, request)


def _text(value) -> str:
    """{{ value }} for text (a template localizes numbers and dates: those are NotPlain)."""
    if isinstance(value, Promise):
        value = str(value)
    if not isinstance(value, str):
        raise NotPlain
    return conditional_escape(value)


def _formatted(value) -> str:
    """{{ value|stringformat:'s' }}: the value as text, escaped unless it was safe."""
    try:
        text = "%s" % (str(value) if isinstance(value, tuple) else value)
    except (ValueError, TypeError):
        text = ""
    return text if isinstance(value, SafeData) else escape(text)


def _attrs(attrs: dict | None) -> str:
    """attrs.html: ` name="value"` for each attribute, ` name` alone for True, nothing for False (or no attrs)."""
    if attrs is None:
        return ""
    written = []
    for name, value in attrs.items():
        if value is not False:
            written.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"')
    return "".join(written)


def _input(context) -> str:
    widget = context["widget"]
    shown = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'


def _select(context) -> str:
    widget = context["widget"]
    written = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group, options, _index in widget["optgroups"]:
        if group:
            written.append(f'\n  <optgroup label="{_text(group)}">')
        for option in options:
            if option["template_name"] != OPTION:
                raise NotPlain
            written.append(f"\n  {_option({'widget': option})}\n")
        if group:
            written.append("\n  </optgroup>")
    return "".join(written) + "\n</select>"


def _option(context) -> str:
    option = context["widget"]
    return f'<option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>{_text(option["label"])}</option>'


def _textarea(context) -> str:
    widget = context["widget"]
    value = _text(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'


def _label(context) -> str:
    if not context["use_tag"]:
        return _text(context["label"])
    tag = _text(context["tag"])
    return f"<{tag}{_attrs(context['attrs'])}>{_text(context['label'])}</{tag}>"


WRITERS = {**dict.fromkeys(INPUTS, _input), SELECT: _select, OPTION: _option, TEXTAREA: _textarea, LABEL: _label}
