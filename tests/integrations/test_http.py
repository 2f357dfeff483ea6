"""The guarded HTTP client: exact requests, SSRF refusals, pinned connections, failures classified for retries."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from integrations.http import BlockedURLError, HttpError, HttpPolicy, check_url, sdk_client, send, tls_context

LOCAL = HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}))


@dataclass
class Seen:
    method: str
    path: str
    headers: Message
    body: bytes


@dataclass
class Route:
    status: int = 200
    body: object = field(default_factory=lambda: {"ok": True})
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    content_length: bool = True  # False: no Content-Length, the body runs until the connection closes


class LocalServer:
    """An HTTP server on a loopback address that answers scripted routes and records every request."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[Seen] = []
        self.routes: dict[tuple[str, str], Route] = {}
        self.httpd = ThreadingHTTPServer((host, 0), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients that hang up early are expected
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def route(self, method: str, path: str, **kwargs) -> None:
        self.routes[(method, path)] = Route(**kwargs)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(Seen(self.command, self.path, self.headers, self.rfile.read(length)))
                route = server.routes.get((self.command, urlsplit(self.path).path), Route())
                time.sleep(route.delay)
                is_text = isinstance(route.body, str)
                payload = route.body.encode() if is_text else json.dumps(route.body).encode()
                self.send_response(route.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8" if is_text else "application/json")
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if route.content_length:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def server():
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture
def second_server():
    """Another server on 127.0.0.2 (Linux routes all of 127/8 to loopback)."""
    local = LocalServer("127.0.0.2")
    yield local
    local.close()


@pytest.fixture
def connections(monkeypatch):
    """Every (host, port) a socket connection is opened to."""
    opened, real = [], socket.create_connection

    def spy(address, *args, **kwargs):
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)
    return opened


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the given names to the given addresses (in turn, one answer per lookup); returns the lookups."""
    lookups, real = [], socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in answers:
            return real(host, *args, **kwargs)
        lookups.append(host)
        if not answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_a_json_post_arrives_exactly_and_the_json_answer_is_parsed(server):
    server.route("POST", "/v1/items", status=201, body={"id": "it_1"})
    result = send(
        "post",
        f"{server.url}/v1/items?x=1",
        policy=LOCAL,
        headers={"Authorization": "Bearer t", "X-Trace": "abc"},
        params={"page": "2"},
        json={"name": "Widget", "qty": 3},
    )
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/items?x=1&page=2")
    assert request.headers["Authorization"] == "Bearer t" and request.headers["X-Trace"] == "abc"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Host"] == f"127.0.0.1:{server.port}"
    assert json.loads(request.body) == {"name": "Widget", "qty": 3}
    assert (result.status, result.body) == (201, {"id": "it_1"})
    assert result.headers["content-type"] == "application/json" and result.elapsed_ms >= 0


def test_a_text_answer_is_returned_as_text_and_raw_and_form_bodies_arrive_as_sent(server):
    server.route("PUT", "/raw", body="plain answer")
    assert send("PUT", server.url + "/raw", policy=LOCAL, data="a,b\n1,2").body == "plain answer"
    send("PUT", server.url + "/form", policy=LOCAL, data={"a": "1", "b": "x y"})
    assert [r.body for r in server.requests] == [b"a,b\n1,2", b"a=1&b=x+y"]
    assert server.requests[1].headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_basic_auth_is_sent(server):
    send("GET", server.url + "/", policy=LOCAL, auth=("me", "pw"))
    assert server.requests[0].headers["Authorization"] == "Basic bWU6cHc="


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/", "127.0.0.1, a loopback address"),
        ("http://localhost:{port}/", "loopback"),
        ("http://LocalHost.:{port}/", "loopback"),
        ("http://2130706433:{port}/", "127.0.0.1, a loopback address"),
        ("http://0x7f000001:{port}/", "127.0.0.1, a loopback address"),
        ("http://017700000001:{port}/", "127.0.0.1, a loopback address"),
        ("http://127.1:{port}/", "127.0.0.1, a loopback address"),
        ("http://[::1]:{port}/", "::1, a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/", "loopback"),
        ("http://[64:ff9b::7f00:1]:{port}/", "loopback"),
        ("http://user:pw@127.0.0.1:{port}/", "loopback"),
        ("http://example.com@127.0.0.1:{port}/", "loopback"),
        ("http://0.0.0.0:{port}/", "0.0.0.0, an unspecified address"),
        ("http://10.0.0.5/", "10.0.0.5, a private address"),
        ("http://172.16.3.4/", "172.16.3.4, a private address"),
        ("http://192.168.1.1/", "192.168.1.1, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://100.64.0.1/", "a non-public address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://240.0.0.1/", "a private address"),
        ("http://[fd00::1]/", "fd00::1, a unique-local address"),
        ("http://[fe80::1]/", "fe80::1, a link-local address"),
    ],
)
def test_loopback_private_link_local_and_metadata_targets_are_refused_before_connecting(
    url, reason, server, connections
):
    with pytest.raises(BlockedURLError) as exc:
        send("GET", url.format(port=server.port), policy=HttpPolicy())
    assert exc.value.retryable is False and reason in str(exc.value) and "resolves to" in str(exc.value)
    assert connections == [] and server.requests == []
    with pytest.raises(BlockedURLError):
        check_url(url.format(port=server.port), HttpPolicy())


def test_a_name_that_resolves_to_a_private_address_is_refused_naming_host_and_address(monkeypatch, connections):
    fake_dns(monkeypatch, {"intranet.example": ["10.1.2.3"]})
    with pytest.raises(BlockedURLError, match=r"'intranet.example' resolves to 10.1.2.3, a private address"):
        send("GET", "http://intranet.example/", policy=HttpPolicy())
    assert connections == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://example.com/", "dict://x/"])
def test_other_schemes_are_refused(url, connections):
    with pytest.raises(BlockedURLError, match="scheme"):
        check_url(url, HttpPolicy())
    with pytest.raises(BlockedURLError, match="scheme"):
        send("GET", url, policy=HttpPolicy())
    assert connections == []


def test_https_only_policy_refuses_plain_http():
    with pytest.raises(BlockedURLError, match="scheme 'http'"):
        check_url("http://example.com/", HttpPolicy(allowed_schemes=frozenset({"https"})))


def test_a_url_httpx_cannot_parse_is_refused_without_retry(connections):
    with pytest.raises(HttpError) as exc:
        send("GET", "http://0177.0.0.1/", policy=HttpPolicy())
    assert exc.value.retryable is False and "invalid URL" in str(exc.value) and connections == []


def test_an_unresolvable_host_is_a_retryable_error(monkeypatch):
    fake_dns(monkeypatch, {"nowhere.invalid": []})
    with pytest.raises(HttpError) as exc:
        check_url("https://nowhere.invalid/x", HttpPolicy())
    assert not isinstance(exc.value, BlockedURLError)
    assert exc.value.retryable is True and "could not resolve host 'nowhere.invalid'" in str(exc.value)


def test_a_public_address_passes_the_check(monkeypatch):
    fake_dns(monkeypatch, {"api.example": ["93.184.216.34"]})
    assert check_url("https://api.example/v1", HttpPolicy()) == [ipaddress.ip_address("93.184.216.34")]


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8", "localhost"])
def test_the_allow_list_admits_a_host_an_address_or_a_network(server, allowed):
    policy = HttpPolicy(allow_hosts=frozenset({allowed}))
    host = "localhost" if allowed == "localhost" else "127.0.0.1"
    assert send("GET", f"http://{host}:{server.port}/", policy=policy).status == 200


def test_the_allow_list_admits_only_what_it_names(server):
    with pytest.raises(BlockedURLError):
        send("GET", server.url, policy=HttpPolicy(allow_hosts=frozenset({"10.0.0.0/8", "internal.example"})))
    assert server.requests == []


def test_an_allow_listed_name_admits_its_private_addresses(server, monkeypatch):
    fake_dns(monkeypatch, {"internal.example": ["127.0.0.1"]})
    result = send("GET", f"http://internal.example:{server.port}/", policy=HttpPolicy(allow_hosts={"internal.example"}))
    assert result.status == 200 and server.requests[0].headers["Host"] == f"internal.example:{server.port}"


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(server, monkeypatch, connections):
    # A rebinding resolver answers 127.0.0.1 (allowed) first and 10.0.0.1 (refused) afterwards.
    lookups = fake_dns(monkeypatch, {"rebind.example": ["127.0.0.1", "10.0.0.1"]})
    result = send("GET", f"http://rebind.example:{server.port}/where", policy=LOCAL)
    assert result.status == 200 and lookups == ["rebind.example"]
    assert connections == [("127.0.0.1", server.port)]
    assert server.requests[0].headers["Host"] == f"rebind.example:{server.port}"


def test_a_redirect_to_a_refused_address_is_refused(server, second_server):
    server.route("GET", "/go", status=302, headers={"Location": f"{second_server.url}/inside"})
    with pytest.raises(BlockedURLError, match="127.0.0.2, a loopback address"):
        send("GET", server.url + "/go", policy=LOCAL)
    assert [r.path for r in server.requests] == ["/go"] and second_server.requests == []


def test_a_redirect_to_an_allowed_address_is_followed(server, second_server):
    server.route("GET", "/go", status=302, headers={"Location": f"{second_server.url}/inside"})
    second_server.route("GET", "/inside", body={"here": True})
    result = send("GET", server.url + "/go", policy=HttpPolicy(allow_hosts=frozenset({"127.0.0.0/8"})))
    assert result.body == {"here": True} and [r.path for r in second_server.requests] == ["/inside"]


def test_a_redirect_to_another_scheme_is_refused(server):
    server.route("GET", "/go", status=302, headers={"Location": "gopher://127.0.0.1:70/_x"})
    with pytest.raises(BlockedURLError, match="scheme 'gopher' is not allowed"):
        send("GET", server.url + "/go", policy=LOCAL)


def test_redirects_stop_at_the_policy_limit(server):
    server.route("GET", "/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(HttpError, match="too many redirects") as exc:
        send("GET", server.url + "/loop", policy=HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}), max_redirects=2))
    assert exc.value.retryable is False and len(server.requests) == 3


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (503, True), (408, True), (400, False), (404, False), (422, False)],
)
def test_statuses_are_classified_for_the_retry_policy_with_the_vendor_message(server, status, retryable):
    server.route("POST", "/x", status=status, body={"error": "vendor says no"})
    with pytest.raises(HttpError) as exc:
        send("POST", server.url + "/x", policy=LOCAL, json={})
    assert exc.value.retryable is retryable and exc.value.status == status
    assert f"POST {server.url}/x answered HTTP {status}" in str(exc.value) and "vendor says no" in str(exc.value)
    assert json.loads(exc.value.response_body) == {"error": "vendor says no"}


def test_429_is_retryable_after_the_seconds_in_retry_after(server):
    server.route("GET", "/slow-down", status=429, headers={"Retry-After": "7"})
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/slow-down", policy=LOCAL)
    assert exc.value.retryable and exc.value.status == 429 and exc.value.retry_after == 7.0


def test_retry_after_may_be_an_http_date(server):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    server.route("GET", "/later", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/later", policy=LOCAL)
    assert exc.value.retryable and 55 <= exc.value.retry_after <= 60


def test_a_status_error_is_not_raised_when_the_caller_checks_statuses_itself(server):
    server.route("GET", "/missing", status=404, body={"error": "nope"})
    result = send("GET", server.url + "/missing", policy=LOCAL, raise_for_status=False)
    assert (result.status, result.body) == (404, {"error": "nope"})


def test_the_message_quotes_only_the_first_500_characters_of_the_body(server):
    server.route("GET", "/long", status=400, body="E" * 500 + "TAIL")
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/long", policy=LOCAL)
    assert "E" * 500 in str(exc.value) and "TAIL" not in str(exc.value)
    assert exc.value.response_body.endswith("TAIL")


def test_messages_carry_neither_user_info_nor_query_strings_nor_request_headers(server):
    server.route("GET", "/secret", status=400, body={"error": "bad"})
    url = server.url.replace("http://", "http://me:hunter2@") + "/secret?token=abc"
    with pytest.raises(HttpError) as exc:
        send("GET", url, policy=LOCAL, headers={"X-Api-Key": "sk_live_123"})
    message = str(exc.value)
    assert f"GET {server.url}/secret answered HTTP 400" in message
    assert "hunter2" not in message and "token=abc" not in message and "sk_live_123" not in message


def test_a_malformed_header_is_refused_without_quoting_it(server):
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/", policy=LOCAL, headers={"X-Api-Key": "sk_live_123\r\nX-Injected: 1"})
    assert exc.value.retryable is False and "sk_live_123" not in str(exc.value) and server.requests == []


def test_a_refused_connection_is_retryable():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    with pytest.raises(HttpError) as exc:
        send("GET", f"http://127.0.0.1:{port}/", policy=LOCAL)
    assert exc.value.retryable is True and f"GET http://127.0.0.1:{port}/ failed" in str(exc.value)


def test_a_timeout_is_retryable(server):
    server.route("GET", "/hang", delay=2)
    started = time.monotonic()
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/hang", policy=LOCAL, timeout=0.3)
    assert exc.value.retryable is True and "timed out after 0.3 s" in str(exc.value)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "streamed"])
def test_an_oversized_response_is_refused(server, content_length):
    server.route("GET", "/big", body="x" * 50_000, content_length=content_length)
    policy = HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}), max_response_bytes=1000)
    with pytest.raises(HttpError, match="response larger than 1000 bytes") as exc:
        send("GET", server.url + "/big", policy=policy)
    assert exc.value.retryable is False


def test_a_response_at_the_limit_is_read(server):
    server.route("GET", "/exact", body="x" * 1000, content_length=False)
    policy = HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}), max_response_bytes=1000)
    assert send("GET", server.url + "/exact", policy=policy).body == "x" * 1000


def self_signed(name: str, directory) -> tuple[str, str]:
    """A throwaway certificate for `name` (untrusted: clients must refuse it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder(subject_name=subject, issuer_name=subject, public_key=key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_https_connects_to_the_checked_address_with_the_name_as_sni_and_a_bad_certificate_is_final(
    monkeypatch, tmp_path, connections
):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed("service.example", tmp_path))
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def handshake_once():
        conn, _ = listener.accept()
        with conn, listener:
            try:
                context.wrap_socket(conn, server_side=True).close()
            except OSError:
                pass  # the client refuses the certificate mid-handshake

    thread = threading.Thread(target=handshake_once, daemon=True)
    thread.start()
    fake_dns(monkeypatch, {"service.example": ["127.0.0.1"]})
    with pytest.raises(HttpError) as exc:
        send("GET", f"https://service.example:{port}/", policy=HttpPolicy(allow_hosts={"service.example"}))
    thread.join(5)
    assert connections == [("127.0.0.1", port)] and names == ["service.example"]
    assert exc.value.retryable is False and "certificate" in str(exc.value)


def test_requests_share_one_verifying_tls_context_instead_of_loading_the_cas_each_time(server, monkeypatch):
    tls_context()  # built once per process
    built = []
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: built.append(1))
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1))
    for _ in range(3):
        send("POST", f"{server.url}/hook", policy=LOCAL, json={})
    with sdk_client(LOCAL, timeout=5) as client:
        client.get(f"{server.url}/hook")
    assert built == []
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname


def test_the_sdk_client_never_follows_a_redirect_even_when_a_request_asks_to(server, second_server):
    server.route("POST", "/v1/chat", status=307, headers={"Location": second_server.url + "/steal"})
    with sdk_client(HttpPolicy(allow_hosts=frozenset({"127.0.0.0/8"})), timeout=5) as client:
        response = client.post(server.url + "/v1/chat", json={"prompt": "x"}, follow_redirects=True)
    assert response.status_code == 307 and second_server.requests == []


def test_the_sdk_client_checks_the_address_it_connects_to(server, monkeypatch):
    lookups = fake_dns(monkeypatch, {"model.test": ["127.0.0.1"]})
    with sdk_client(HttpPolicy(), timeout=5) as client, pytest.raises(BlockedURLError, match="loopback"):
        client.get(f"http://model.test:{server.port}/v1/models")
    assert server.requests == [] and lookups == ["model.test"]


def test_the_sdk_client_reads_at_most_the_policy_size(server):
    server.route("GET", "/v1/huge", body="x" * 5000)
    policy = HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}), max_response_bytes=1000)
    with sdk_client(policy, timeout=5) as client, pytest.raises(HttpError, match="larger than 1000 bytes"):
        client.get(server.url + "/v1/huge")
    server.route("GET", "/v1/small", body={"data": []})
    with sdk_client(policy, timeout=5) as client:
        answer = client.get(server.url + "/v1/small")
    assert answer.json() == {"data": []} and answer.elapsed.total_seconds() >= 0
