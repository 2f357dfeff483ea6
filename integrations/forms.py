"""The Connect form: one input per credential field of the chosen service; secrets are write-only."""

from __future__ import annotations

from django import forms

from . import connectors
from .models import Connection
from .services import connection_credential_problems, connection_set_credentials

PREFIX = "cred_"


class ConnectionForm(forms.ModelForm):
    """Credentials are typed in, stored encrypted and never rendered back; an empty secret keeps the stored one."""

    credential_values = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "autocomplete": "off", "spellcheck": "false"}),
        label="Other credentials",
        help_text="Advanced: more name=value lines (one per line) merged into the fields above. "
        "Stored encrypted; never shown again.",
    )

    class Meta:
        model = Connection
        fields = ("service", "name", "sensitivity", "allowed_groups")
        widgets = {"service": forms.Select(choices=[])}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].widget.choices = [("", "— choose a service —")] + [
            (s.name, f"{s.label} ({s.category})") for s in connectors.services()
        ]
        if "sensitivity" in self.fields:
            self.fields["sensitivity"].required = False  # a choice with a default: missing means keep it
        stored = self.instance.credentials if self.instance.pk else {}
        for name, field in self.fields.items():
            key = name.removeprefix(PREFIX)
            if name.startswith(PREFIX) and key in stored and not isinstance(field.widget, forms.PasswordInput):
                field.initial = stored[key]  # not secret (a base URL, a client id): shown so it can be edited
            elif name.startswith(PREFIX) and key in stored:
                field.help_text = f"Stored (hidden). Leave empty to keep it. {field.help_text}".strip()

    def clean_sensitivity(self):
        """Left out of a post (an older form, a script): unchanged for a saved connection, else normal."""
        chosen = self.cleaned_data.get("sensitivity")
        return chosen or (self.instance.sensitivity if self.instance.pk else Connection.Sensitivity.NORMAL)

    def clean_credential_values(self):
        text, values = self.cleaned_data["credential_values"], {}
        for number, line in enumerate(filter(None, (ln.strip() for ln in text.splitlines())), start=1):
            if "=" not in line:
                raise forms.ValidationError(f"Line {number}: write name=value.")
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
        return values

    def typed(self) -> dict:
        """Every credential typed in this time: the per-field inputs, then the advanced lines."""
        fields = {k.removeprefix(PREFIX): v for k, v in self.cleaned_data.items() if k.startswith(PREFIX) and v}
        return fields | (self.cleaned_data.get("credential_values") or {})

    def clean(self):
        cleaned = super().clean()
        service = connectors.get_service(cleaned.get("service") or "")
        if service is None:
            self.add_error("service", "Choose the service this connection is for.")
            return cleaned
        stored = self.instance.credentials if self.instance.pk and self.instance.service == service.name else {}
        unknown, missing = connection_credential_problems(service=service, stored=stored, typed=self.typed())
        if unknown:
            self.add_error("credential_values", f"{unknown[0].upper()}{unknown[1:]}.")
        if missing:
            self.add_error(None, f"{missing}.")
        return cleaned

    def save(self, commit=True):
        connection = super().save(commit=False)
        connection_set_credentials(
            connection=connection, typed=self.typed(), same_service="service" not in self.changed_data
        )
        if commit:
            connection.save()
        return connection


def connection_form_for(service: connectors.Service | None) -> type[ConnectionForm]:
    """A ConnectionForm with an input for each of the service's credential fields."""
    attrs = {
        f"{PREFIX}{key}": credential_field(spec) for key, spec in (service.credential_fields if service else {}).items()
    }
    return type(f"{service.name.title() if service else ''}ConnectionForm", (ConnectionForm,), attrs)


def credential_field(spec: dict) -> forms.CharField:
    """A password input for a secret (never rendered back), a text input for the rest."""
    attrs = {"autocomplete": "off", "spellcheck": "false", "size": 60}
    widget = forms.PasswordInput(render_value=False, attrs=attrs) if spec.get("secret") else forms.TextInput(attrs)
    return forms.CharField(
        required=False, label=spec.get("label", ""), help_text=spec.get("help", ""), widget=widget, strip=True
    )
