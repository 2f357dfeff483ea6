"""SMTP e-mail: send through the connection's own mail server with Django's SMTP backend (not HTTP).

The host must pass the same SSRF policy as HTTP steps (private relays need FAOS_HTTP_ALLOW_HOSTS), and the
connection goes to the very addresses that were checked (no second lookup a rebinding DNS could answer with
127.0.0.1); the host name stays for EHLO, TLS SNI and the certificate check. Failures are classified as SMTP
defines them: 4xx replies and dropped connections are temporary (retry), 5xx are permanent.
"""

import functools
import re
import smtplib
import ssl
from email.utils import parseaddr

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend

from executions.engine.errors import StepError

from .. import http
from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, ConnectorAction, Service, policy, redact, register_service

IDEMPOTENCY_HEADER = "X-FAOS-Idempotency-Key"
TRUE = {"1", "true", "yes", "on"}
ADDRESSES = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

register_service(
    Service(
        name="smtp",
        label="SMTP e-mail",
        category="Email",
        docs_url="https://docs.djangoproject.com/en/5.2/topics/email/#smtp-backend",
        credential_fields={
            "host": {"label": "SMTP host", "secret": False, "required": True, "help": "e.g. smtp.example.com"},
            "port": {"label": "Port", "secret": False, "required": False, "help": "Default 587 with STARTTLS, 465 SSL"},
            "username": {"label": "Username", "secret": False, "required": False, "help": "Leave empty for no login"},
            "password": {"label": "Password", "secret": True, "required": False, "help": "Or an app password"},
            "use_tls": {"label": "STARTTLS", "secret": False, "required": False, "help": "true for port 587"},
            "use_ssl": {"label": "Implicit TLS (SSL)", "secret": False, "required": False, "help": "true for 465"},
            "from_email": {
                "label": "From address",
                "secret": False,
                "required": True,
                "help": "e.g. Support <support@example.com>",
            },
        },
        test_action="smtp.check_connection",
    )
)


def flag(value) -> bool:
    return value is True or str(value).strip().lower() in TRUE


def settings_from(creds: dict, timeout: float) -> dict:
    """The backend's keyword arguments from the connection's credentials."""
    use_tls, use_ssl = flag(creds.get("use_tls")), flag(creds.get("use_ssl"))
    if use_tls and use_ssl:
        raise StepError("smtp: choose STARTTLS or implicit TLS (SSL), not both")
    try:
        port = int(creds.get("port") or (465 if use_ssl else 587 if use_tls else 25))
    except ValueError:
        raise StepError("smtp: the port must be a number") from None
    host = str(creds.get("host") or "").strip()
    if not host:
        raise StepError("smtp: the connection has no host")
    username, password = creds.get("username") or "", creds.get("password") or ""
    return {
        "host": host,
        "port": port,
        "username": username,
        "password": password,
        "use_tls": use_tls,
        "use_ssl": use_ssl,
        "timeout": timeout,
    }


def check_host(host: str, creds: dict) -> list:
    """The host's addresses; private, loopback and link-local ones are refused unless allow-listed, as for HTTP."""
    try:
        return http.check_url(f"http://[{host}]" if ":" in host else f"http://{host}", policy())
    except http.HttpError as exc:
        raise StepError(redact(f"smtp: {exc}", creds), retryable=exc.retryable) from None


class _Pinned:
    """An smtplib connection that opens its socket to the checked addresses only; self._host keeps the name."""

    def __init__(self, *args, addresses: list, **kwargs):
        self.addresses = addresses
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        for address in self.addresses[:-1]:  # in resolver order, as for HTTP; a TLS failure is not retried
            try:
                return super()._get_socket(str(address), port, timeout)
            except ssl.SSLError:
                raise
            except OSError:
                continue
        return super()._get_socket(str(self.addresses[-1]), port, timeout)


class PinnedSMTP(_Pinned, smtplib.SMTP):
    pass


class PinnedSMTPSSL(_Pinned, smtplib.SMTP_SSL):
    pass


class PinnedBackend(EmailBackend):
    """Django's SMTP backend, connecting to the addresses check_host approved."""

    def __init__(self, *, addresses: list, **kwargs):
        super().__init__(**kwargs)
        self.addresses = addresses

    @property
    def connection_class(self):
        return functools.partial(PinnedSMTPSSL if self.use_ssl else PinnedSMTP, addresses=self.addresses)

    @property
    def ssl_context(self):
        """One verifying context for every message (loading the CAs costs ~20 ms); a client certificate gets its own."""
        return super().ssl_context if self.ssl_certfile or self.ssl_keyfile else default_tls_context()


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """The system CAs' verifying context, as Django's backend builds it, built once per process."""
    return ssl.create_default_context()


def reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


def failure(exc: Exception) -> StepError:
    """A StepError for an SMTP failure: 4xx replies and network trouble are retryable, 5xx replies are not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{rcpt}: {reply(code, text)}" for rcpt, (code, text) in exc.recipients.items())
        return StepError(f"recipients refused: {detail}", retryable=all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        retryable = 400 <= exc.smtp_code < 500
        return StepError(f"the server answered {reply(exc.smtp_code, exc.smtp_error)}", retryable=retryable)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return StepError(f"the server closed the connection: {exc}", retryable=True)
    if isinstance(exc, smtplib.SMTPException):  # STARTTLS/AUTH not offered, no common AUTH method
        return StepError(str(exc), retryable=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return StepError("TLS certificate verification failed", retryable=False)
    return StepError(f"could not talk to the server: {exc or type(exc).__name__}", retryable=True)


def addresses(value) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value or []
    return [item.strip() for item in items if item.strip()]


def message_id(key: str, sender: str) -> str:
    """A Message-ID made from the idempotency key: every retry of the step sends the same one."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "faos.invalid"
    return f"<{re.sub(r'[^A-Za-z0-9.+_-]', '-', key)}@{domain}>"


class SmtpAction(ConnectorAction):
    service = "smtp"
    category = "Email"

    def describe(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        described = {"transport": "smtp", "host": creds.get("host"), "port": creds.get("port")}
        return redact({**described, **self.preview(inputs, creds, ctx)}, creds)

    def preview(self, inputs: dict, creds: dict, ctx) -> dict:
        return {}

    def run(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        options = settings_from(creds, ctx.timeout)
        addresses = check_host(options["host"], creds)
        try:
            result = self.talk(PinnedBackend(addresses=addresses, fail_silently=False, **options), inputs, creds, ctx)
        except (OSError, smtplib.SMTPException) as exc:  # SMTPException is an OSError; both named for clarity
            error = failure(exc)
            raise StepError(redact(f"smtp: {error}", creds), retryable=error.retryable) from None
        except ValueError as exc:  # e.g. a line break in a header (Django's BadHeaderError)
            raise StepError(redact(f"smtp: {exc}", creds)) from None
        return redact(result, creds)

    def talk(self, backend, inputs: dict, creds: dict, ctx) -> dict:
        raise NotImplementedError


@register
class SendEmail(SmtpAction):
    """Send one e-mail (plain text, optionally with an HTML alternative) through the SMTP server."""

    name = "smtp.send_email"
    example = {
        "to": "{{trigger.customer.email}}",
        "subject": "Payment reminder",
        "body": "Invoice {{trigger.invoice.number}} is overdue.",
    }
    label = "SMTP: send an e-mail"
    input_schema = {
        "type": "object",
        "required": ["to", "subject"],
        "properties": {
            "connection": CONNECTION,
            "to": {**ADDRESSES, "title": "To", "description": "Addresses, comma-separated or a list"},
            "cc": {**ADDRESSES, "title": "Cc"},
            "bcc": {**ADDRESSES, "title": "Bcc", "description": "Receive the e-mail without being listed"},
            "subject": {"type": "string", "title": "Subject", "minLength": 1},
            "body": {"type": "string", "title": "Body (plain text)", "default": ""},
            "html_body": {"type": "string", "title": "HTML body", "description": "Sent as an alternative part"},
            "reply_to": {**ADDRESSES, "title": "Reply-To"},
        },
    }

    def email(self, inputs: dict, creds: dict, ctx, backend=None) -> EmailMultiAlternatives:
        sender = str(creds.get("from_email") or "")
        if not addresses(inputs["to"]):
            raise StepError("smtp: 'to' needs at least one address")
        headers = {IDEMPOTENCY_HEADER: ctx.idempotency_key, "Message-ID": message_id(ctx.idempotency_key, sender)}
        email = EmailMultiAlternatives(
            subject=inputs["subject"],
            body=inputs.get("body") or "",
            from_email=sender,
            to=addresses(inputs["to"]),
            cc=addresses(inputs.get("cc")),
            bcc=addresses(inputs.get("bcc")),
            reply_to=addresses(inputs.get("reply_to")),
            headers=headers,
            connection=backend,
        )
        if inputs.get("html_body"):
            email.attach_alternative(inputs["html_body"], "text/html")
        return email

    def preview(self, inputs, creds, ctx):
        email = self.email(inputs, creds, ctx)
        return {"from": email.from_email, "recipients": email.recipients(), "headers": dict(email.extra_headers)}

    def talk(self, backend, inputs, creds, ctx):
        if not creds.get("from_email"):
            raise StepError("smtp: the connection has no From address")
        email = self.email(inputs, creds, ctx, backend)
        email.send(fail_silently=False)
        return {"message_id": email.extra_headers["Message-ID"], "recipients": len(email.recipients())}


@register
class CheckConnection(SmtpAction):
    """Connect, EHLO, STARTTLS and log in if configured, then QUIT (used by "Test connection")."""

    name = "smtp.check_connection"
    example = {}
    label = "SMTP: check the server and login"
    read_only = True
    input_schema = CONNECTION_ONLY

    def talk(self, backend, inputs, creds, ctx):
        backend.open()  # connects, STARTTLS when asked, and logs in when a username and password are set
        try:
            backend.connection.ehlo_or_helo_if_needed()
            features = sorted(backend.connection.esmtp_features)
        finally:
            backend.close()  # QUIT
        return {
            "connected": True,
            "tls": backend.use_tls or backend.use_ssl,
            "authenticated": bool(backend.username and backend.password),
            "extensions": features,
        }
