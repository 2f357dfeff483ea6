"""Admin forms for steps: clear errors for keys and JSON fields, and config checked against its kind's schema."""

from django import forms

from executions.engine.spelling import canonical_config
from faos.json_forms import StrictJSONFormField

from ..config_checks import config_errors, trigger_problems
from ..models import EDITABLE_STEP_FIELDS, RESERVED_STEP_KEYS, Step, Trigger
from .widgets import StepConfigWidget, TriggerConfigWidget, kind_choices


class StepInlineForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ("position", *EDITABLE_STEP_FIELDS)
        widgets = {
            "config": StepConfigWidget(),
            "branches": forms.Textarea(attrs={"rows": 2, "cols": 30, "spellcheck": "false"}),
        }
        field_classes = {"config": StrictJSONFormField, "branches": StrictJSONFormField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.initial.get("kind") or self.instance.kind
        if "config" in self.initial:  # an old spelling (an action's `inputs`) opens in the current one
            self.initial["config"] = canonical_config(current, self.initial["config"])[0]
        self.fields["kind"].widget = forms.Select(choices=kind_choices(current), attrs={"class": "faos-kind"})

    def clean(self):
        cleaned = super().clean()
        kind, config = cleaned.get("kind"), cleaned.get("config")
        if kind and isinstance(config, dict) and "config" not in self.errors:
            cleaned["config"] = config = canonical_config(kind, config)[0]
            for message in config_errors(kind, config):
                self.add_error("config", message)
        return cleaned

    def clean_key(self):
        key = self.cleaned_data["key"]
        if key in RESERVED_STEP_KEYS:
            raise forms.ValidationError(f"'{key}' is a reserved variable name; choose another key.")
        return key

    def clean_kind(self):
        from executions.engine import kinds

        kind = self.cleaned_data["kind"]
        if kinds.get(kind) is None:
            raise forms.ValidationError(f"Unknown step kind '{kind}'. Known kinds: {', '.join(kinds.names())}.")
        return kind

    def clean_config(self):
        config = self.cleaned_data["config"]
        if not isinstance(config, dict):
            raise forms.ValidationError("The config must be a JSON object.")
        return config

    def clean_branches(self):
        branches = self.cleaned_data["branches"]
        if not isinstance(branches, dict):
            raise forms.ValidationError(
                'Branches must be a JSON object, e.g. {"true": "premium", "false": "standard"}.'
            )
        return branches


class TriggerInlineForm(forms.ModelForm):
    """Trigger config is checked against its kind's schema, then for meaning; a new secret is write-only."""

    new_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="New secret",
        help_text="Webhook signing secret or token (a vendor's, e.g. Stripe's whsec_…). Leave empty to keep "
        "the current one; token and HMAC schemes get one generated, used in the curl example. Stored encrypted.",
    )

    class Meta:
        model = Trigger
        fields = ("workflow", "kind", "name", "config", "is_enabled")
        widgets = {"config": TriggerConfigWidget()}
        field_classes = {"config": StrictJSONFormField}

    def clean(self):
        cleaned = super().clean()
        kind, config = cleaned.get("kind"), cleaned.get("config")
        if kind and "config" not in self.errors:
            for field, message in trigger_problems(kind, {} if config is None else config).items():
                self.add_error("config", f"{field}: {message}")
        return cleaned

    def save(self, commit=True):
        trigger = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            trigger.secrets = [self.cleaned_data["new_secret"], *(trigger.secrets or [])][:2]  # keep one for rotation
        if commit:
            trigger.save()
        return trigger
