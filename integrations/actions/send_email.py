"""`send_email`: send an e-mail through Django's configured mail backend."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from executions.engine.errors import StepError

from . import Action, register

ADDRESS = {"type": "string", "format": "email", "minLength": 3, "pattern": "@"}
ADDRESSES = {"anyOf": [ADDRESS, {"type": "array", "items": ADDRESS, "minItems": 1}]}


@register
class SendEmailAction(Action):
    name = "send_email"
    example = {
        "to": "{{trigger.customer.email}}",
        "subject": "Welcome, {{trigger.customer.name}}",
        "body": "Thanks for signing up.",
    }
    label = "Send an e-mail"
    side_effect = True
    input_schema = {
        "type": "object",
        "required": ["to", "subject", "body"],
        "properties": {
            "to": {**ADDRESSES, "description": "One address or a list."},
            "cc": {**ADDRESSES, "description": "One address or a list."},
            "reply_to": {**ADDRESS, "description": "Where replies go."},
            "from_email": {**ADDRESS, "description": "The sender (empty: DEFAULT_FROM_EMAIL)."},
            "subject": {"type": "string", "minLength": 1, "maxLength": 998, "description": "The subject line."},
            "body": {"type": "string", "description": "The plain-text body."},
            "html": {"type": "string", "description": "An HTML version of the body, if any."},
        },
    }

    def describe(self, inputs, ctx):
        return {
            "from": inputs.get("from_email") or settings.DEFAULT_FROM_EMAIL,
            "to": _list(inputs["to"]),
            "cc": _list(inputs.get("cc")),
            "subject": inputs["subject"],
            "body": inputs["body"],
            "headers": {"X-FAOS-Idempotency-Key": ctx.idempotency_key},
        }

    def run(self, inputs, ctx):
        mail = self.describe(inputs, ctx)
        message = EmailMultiAlternatives(
            subject=mail["subject"],
            body=mail["body"],
            from_email=mail["from"],
            to=mail["to"],
            cc=mail["cc"],
            reply_to=_list(inputs.get("reply_to")),
            headers=mail["headers"],
        )
        if inputs.get("html"):
            message.attach_alternative(inputs["html"], "text/html")
        try:
            sent = message.send(fail_silently=False)
        except (OSError, ConnectionError) as exc:  # SMTP down or refused: worth another attempt
            raise StepError(f"could not send e-mail: {exc}", retryable=True) from exc
        return {"sent": sent, "to": mail["to"], "subject": mail["subject"]}


def _list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)
