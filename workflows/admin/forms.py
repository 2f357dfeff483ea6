"""Admin forms for steps: clear errors for keys and JSON fields."""

from django import forms

from ..models import RESERVED_STEP_KEYS, Step


class StepInlineForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = (
            "position",
            "key",
            "name",
            "kind",
            "config",
            "next_step",
            "branches",
            "timeout_seconds",
            "on_error",
            "on_error_goto",
            "retry_max_attempts",
            "retry_initial_delay",
            "retry_multiplier",
            "retry_max_delay",
            "retry_jitter",
        )
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
