"""Admin forms for steps: clear errors for keys and JSON fields."""

from django import forms

from ..models import EDITABLE_STEP_FIELDS, RESERVED_STEP_KEYS, Step, Trigger


class StepInlineForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ("position", *EDITABLE_STEP_FIELDS)
        widgets = {
            "config": forms.Textarea(attrs={"rows": 4, "cols": 70, "spellcheck": "false"}),
            "branches": forms.Textarea(attrs={"rows": 2, "cols": 30, "spellcheck": "false"}),
        }

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
    """Trigger config is checked per kind; a new signing secret is write-only (never shown back)."""

    new_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="New secret",
        help_text="Webhook signing secret or token. Leave empty to keep the current one; it is stored encrypted.",
    )

    class Meta:
        model = Trigger
        fields = ("workflow", "kind", "name", "config", "is_enabled")
        widgets = {"config": forms.Textarea(attrs={"rows": 3, "cols": 50, "spellcheck": "false"})}

    def clean(self):
        from ..triggers import trigger_config_errors

        cleaned = super().clean()
        for field, message in trigger_config_errors(cleaned.get("kind", "manual"), cleaned.get("config") or {}).items():
            self.add_error("config", f"{field}: {message}")
        return cleaned

    def save(self, commit=True):
        trigger = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            trigger.secrets = [self.cleaned_data["new_secret"], *(trigger.secrets or [])][:2]  # keep one for rotation
        if commit:
            trigger.save()
        return trigger
