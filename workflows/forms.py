"""Forms for the workflow admin: the JSON input of a manual run."""

from django import forms

from faos.json_input import JSONInputError, json_parse


class RunWorkflowForm(forms.Form):
    """A manual run's input: a JSON object, and whether it is a test run of the draft."""

    input = forms.CharField(
        label="Input (JSON)",
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "class": "vLargeTextField", "spellcheck": "false"}),
        initial="{}",
        help_text="Becomes {{trigger.payload}}; its keys are shortcuts too, e.g. {{trigger.customer.email}}.",
    )
    test_run = forms.BooleanField(
        required=False,
        label="Test run of the current draft",
        help_text="Runs the steps as edited now; e-mails and HTTP calls are recorded instead of sent.",
    )

    fast_forward = forms.BooleanField(
        required=False,
        label="Fast-forward waits (test runs)",
        help_text="Waits, rate limits, retry back-offs and timeouts end at once so you see the whole path now.",
    )
    send_reads = forms.BooleanField(
        required=False,
        label="Send read-only calls (test runs)",
        help_text="Lookups in connected services (get an order, check a transfer) really run; writes stay recorded.",
    )

    def clean_input(self):
        text = self.cleaned_data["input"].strip() or "{}"
        try:
            value = json_parse(text)
        except JSONInputError as exc:  # depth, NaN/Infinity and huge numbers are refused too, never a 500
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('The input must be a JSON object, e.g. {"customer": {"email": "…"}}.')
        return value
