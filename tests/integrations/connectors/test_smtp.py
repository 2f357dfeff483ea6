"""SMTP e-mail: a real SMTP conversation with a local server: envelope, message, login, and failure classes."""

import base64
import ipaddress
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest

from executions.engine.errors import StepError
from integrations.connectors.smtp import PinnedBackend
from integrations.models import Connection
from tests.fakes import FakeDNS
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
USER = "mailer@example.com"
PASSWORD = "smtp-canary-password-123"


@dataclass
class Envelope:
    mail_from: str = ""
    rcpt_tos: list = field(default_factory=list)
    data: bytes = b""


class SmtpServer:
    """A tiny SMTP responder on 127.0.0.1: records every command, envelope and message; replies can be scripted."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.commands: list[str] = []
        self.delivered: list[Envelope] = []
        self.replies: dict[str, str] = {}  # verb (or "GREETING") -> reply line replacing the normal answer
        self.sessions = 0
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def say(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                server.sessions += 1
                self.say(server.replies.get("GREETING", "220 fake.test ESMTP ready"))
                envelope = Envelope()
                while line := self.rfile.readline():
                    command = line.decode().rstrip("\r\n")
                    server.commands.append(command)
                    verb = command.split(" ", 1)[0].upper()
                    if verb in server.replies:
                        self.say(server.replies[verb])
                    elif not self.answer(verb, command, envelope):
                        return

            def answer(self, verb: str, command: str, envelope: Envelope) -> bool:
                if verb == "EHLO":
                    self.say("250-fake.test\r\n250-AUTH PLAIN\r\n250 8BITMIME")
                elif verb == "AUTH":
                    _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                    ok = (user, password) == (USER, PASSWORD)
                    self.say("235 2.7.0 Authentication successful" if ok else "535 5.7.8 Authentication failed")
                elif verb == "MAIL":
                    envelope.mail_from = command.split(":", 1)[1].split()[0].strip("<>")
                    self.say("250 2.1.0 OK")
                elif verb == "RCPT":
                    envelope.rcpt_tos.append(command.split(":", 1)[1].strip().strip("<>"))
                    self.say("250 2.1.5 OK")
                elif verb == "DATA":
                    self.say("354 End data with <CR><LF>.<CR><LF>")
                    envelope.data = self.read_data()
                    server.delivered.append(envelope)
                    self.say("250 2.0.0 queued as F00D")
                elif verb == "QUIT":
                    self.say("221 2.0.0 Bye")
                    return False
                else:  # HELO, RSET, NOOP
                    self.say("250 OK")
                return True

            def read_data(self) -> bytes:
                lines = []
                while (line := self.rfile.readline()) != b".\r\n":
                    lines.append(line[1:] if line.startswith(b"..") else line)
                return b"".join(lines)

        self.tcp = socketserver.ThreadingTCPServer((host, port), Handler)
        self.tcp.daemon_threads = True
        self.port = self.tcp.server_address[1]
        threading.Thread(target=self.tcp.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.tcp.shutdown()
        self.tcp.server_close()


@pytest.fixture
def server(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    smtp = SmtpServer()
    yield smtp
    smtp.close()


@pytest.fixture
def connect(server):
    def make(**credentials):
        defaults = {"host": "127.0.0.1", "port": server.port, "username": USER, "password": PASSWORD}
        defaults["from_email"] = "Support <support@example.com>"
        return Connection.objects.create(service="smtp", name="default", credentials={**defaults, **credentials})

    return make


EMAIL = {
    "to": "Ada <ada@example.org>, bob@example.org",
    "cc": ["carol@example.org"],
    "bcc": "audit@example.com",
    "subject": "Your ticket #42",
    "body": "We are on it.",
    "html_body": "<p>We are on it.</p>",
    "reply_to": "help@example.com",
}


def test_send_email_logs_in_and_delivers_the_envelope_and_message(server, connect):
    connect()
    result = call("smtp.send_email", EMAIL)
    [envelope] = server.delivered
    assert envelope.mail_from == "support@example.com"
    assert envelope.rcpt_tos == ["ada@example.org", "bob@example.org", "carol@example.org", "audit@example.com"]
    auth = next(c for c in server.commands if c.startswith("AUTH PLAIN"))
    assert base64.b64decode(auth.split()[2]) == f"\0{USER}\0{PASSWORD}".encode()
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert message["From"] == "Support <support@example.com>"
    assert message["To"] == "Ada <ada@example.org>, bob@example.org"
    assert message["Cc"] == "carol@example.org" and message["Bcc"] is None
    assert message["Subject"] == "Your ticket #42" and message["Reply-To"] == "help@example.com"
    assert message["X-FAOS-Idempotency-Key"] == "faos-1-step-1"
    assert message["Message-ID"] == "<faos-1-step-1@example.com>"
    assert message.get_body(("plain",)).get_content().strip() == "We are on it."
    assert message.get_body(("html",)).get_content().strip() == "<p>We are on it.</p>"
    assert result == {"message_id": "<faos-1-step-1@example.com>", "recipients": 4}
    assert server.commands[-1].upper() == "QUIT"


def test_without_a_username_there_is_no_login(server, connect):
    connect(username="", password="")
    call("smtp.send_email", {"to": "a@example.org", "subject": "hi", "body": "x"})
    assert not any(c.startswith("AUTH") for c in server.commands) and len(server.delivered) == 1


def test_a_5xx_recipient_refusal_is_permanent_and_quotes_the_server(server, connect):
    connect()
    server.replies["RCPT"] = "550 5.1.1 <nobody@example.org>: Recipient address rejected"
    with pytest.raises(StepError) as exc:
        call("smtp.send_email", {"to": "nobody@example.org", "subject": "hi", "body": "x"})
    assert not exc.value.retryable and "550 5.1.1" in str(exc.value) and "Recipient address rejected" in str(exc.value)


def test_a_4xx_reply_is_temporary_and_retryable(server, connect):
    connect()
    server.replies["MAIL"] = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(StepError) as exc:
        call("smtp.send_email", {"to": "a@example.org", "subject": "hi", "body": "x"})
    assert exc.value.retryable and "451 4.3.0" in str(exc.value)


def test_a_421_greeting_is_retryable(server, connect):
    connect()
    server.replies["GREETING"] = "421 4.3.2 Service not available, try later"
    with pytest.raises(StepError) as exc:
        call("smtp.check_connection", {})
    assert exc.value.retryable and "421" in str(exc.value)


def test_a_refused_connection_is_retryable(server, connect):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connect(port=port)
    with pytest.raises(StepError) as exc:
        call("smtp.send_email", {"to": "a@example.org", "subject": "hi", "body": "x"})
    assert exc.value.retryable and "could not talk to the server" in str(exc.value)


def test_starttls_on_a_server_without_it_is_a_permanent_error(server, connect):
    connect(use_tls="true")
    with pytest.raises(StepError, match="STARTTLS") as exc:
        call("smtp.send_email", {"to": "a@example.org", "subject": "hi", "body": "x"})
    assert not exc.value.retryable and server.delivered == []


def test_a_failed_login_is_permanent_and_never_shows_the_password_even_when_echoed(server, connect):
    connect()
    server.replies["AUTH"] = f"535 5.7.8 Authentication failed for {USER} with {PASSWORD}"
    with pytest.raises(StepError) as exc:
        call("smtp.send_email", {"to": "a@example.org", "subject": "hi", "body": "x"})
    message = str(exc.value)
    assert not exc.value.retryable and "535 5.7.8" in message
    assert PASSWORD not in message and USER not in message and server.delivered == []


def test_the_password_never_appears_in_a_result(server, connect):
    connect()
    result = call("smtp.send_email", {"to": "a@example.org", "subject": PASSWORD, "body": "x"})
    assert PASSWORD not in str(result)


def test_a_private_host_must_be_allow_listed(server, connect, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = []
    connect()
    with pytest.raises(StepError, match="not allow-listed") as exc:
        call("smtp.check_connection", {})
    assert not exc.value.retryable and server.sessions == 0


def test_test_runs_record_the_message_with_credentials_redacted_and_send_nothing(server, connect):
    connect()
    result = call("smtp.send_email", EMAIL, test_mode=True)
    assert server.sessions == 0 and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["transport"] == "smtp" and sent["recipients"][-1] == "audit@example.com"
    assert sent["headers"]["X-FAOS-Idempotency-Key"] == "faos-1-step-1"
    assert PASSWORD not in str(result)


def test_check_connection_says_ehlo_logs_in_and_quits(server, connect):
    connect()
    result = call("smtp.check_connection", {})
    verbs = [c.split(" ", 1)[0].upper() for c in server.commands]
    assert verbs == ["EHLO", "AUTH", "QUIT"] and server.delivered == []
    assert result == {"connected": True, "tls": False, "authenticated": True, "extensions": ["8bitmime", "auth"]}


def test_check_connection_reports_a_wrong_password_as_a_step_error(server, connect):
    connect(password="wrong-password-456")
    with pytest.raises(StepError, match="535") as exc:
        call("smtp.check_connection", {})
    assert not exc.value.retryable and "wrong-password-456" not in str(exc.value)


def test_test_runs_work_without_any_connection(server):
    result = call("smtp.send_email", {"to": "a@example.org", "subject": "hi"}, test_mode=True)
    assert result["would_send"]["recipients"] == ["a@example.org"] and server.sessions == 0


def test_smtp_connects_to_the_checked_address(server, connect, settings, monkeypatch):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]  # this address is allowed; 127.0.0.2 (another service) is not
    other = SmtpServer("127.0.0.2", server.port)
    # The check sees 127.0.0.1; a second lookup would be answered with 127.0.0.2 (DNS rebinding).
    dns = FakeDNS(monkeypatch, {"mail.test": ["127.0.0.1", "127.0.0.2"]})
    connect(host="mail.test")
    try:
        call("smtp.check_connection", {})
    finally:
        other.close()
    assert server.sessions == 1 and other.sessions == 0 and dns.lookups["mail.test"] == 1


def test_smtp_keeps_the_host_name_for_ehlo_tls_and_certificates_while_connecting_to_the_address(server):
    backend = PinnedBackend(addresses=[ipaddress.ip_address("127.0.0.1")], host="mail.test", port=server.port)
    backend.open()
    try:
        assert backend.connection._host == "mail.test"  # what STARTTLS and SMTP_SSL check the certificate against
        assert backend.connection.sock.getpeername() == ("127.0.0.1", server.port)
    finally:
        backend.close()


def test_tls_connections_share_one_verifying_context_unless_a_client_certificate_is_set(tmp_path):
    address = [ipaddress.ip_address("127.0.0.1")]
    first, second = (PinnedBackend(addresses=address, host="mail.test", use_tls=True) for _ in range(2))
    assert first.ssl_context is second.ssl_context
    assert first.ssl_context.verify_mode == ssl.CERT_REQUIRED and first.ssl_context.check_hostname
    missing = str(tmp_path / "client.pem")
    with_cert = PinnedBackend(addresses=address, host="mail.test", use_tls=True, ssl_certfile=missing)
    with pytest.raises(FileNotFoundError):  # its own context, loading its own certificate
        assert with_cert.ssl_context is None
