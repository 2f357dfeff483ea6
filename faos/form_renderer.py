"""Django's form renderer, except that an empty error list is written as nothing without a template.

The admin asks every field for its errors twice (its line's and its own): a workflow page renders ~140 error lists,
nearly all empty, and Django's templates for them write nothing when there is no error."""

from django.forms.renderers import DjangoTemplates

ERROR_LISTS = ("django/forms/errors/list/", "django/forms/errors/dict/")


class FormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name.startswith(ERROR_LISTS) and not context.get("errors"):
            return ""
        return super().render(template_name, context, request)
