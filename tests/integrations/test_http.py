"""The guarded HTTP client: exact requests, SSRF refusals, and failures classified for retries."""

import pytest

from integrations.http import BlockedURLError, HttpError, HttpPolicy, check_url, send
from tests.fakes import FakeServer

LOCAL = HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}))


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def test_a_json_post_arrives_exactly_and_the_json_answer_is_parsed(server):
    server.route("POST", "/v1/items", status=201, body={"id": "it_1"})
    result = send(
        "POST",
        f"{server.url}/v1/items?x=1",
        policy=LOCAL,
        headers={"Authorization": "Bearer t"},
        json={"name": "Widget"},
    )
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/items?x=1")
    assert request.headers["Authorization"] == "Bearer t" and request.headers["Content-Type"] == "application/json"
    assert request.json() == {"name": "Widget"}
    assert (result.status, result.body) == (201, {"id": "it_1"})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://localhost./",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://user:pw@127.0.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
    ],
)
def test_private_loopback_and_metadata_targets_are_refused(url, server):
    with pytest.raises(BlockedURLError) as exc:
        send("GET", url, policy=HttpPolicy())
    assert exc.value.retryable is False and "address" in str(exc.value)
    assert server.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/"])
def test_other_schemes_are_refused(url):
    with pytest.raises(BlockedURLError, match="scheme"):
        check_url(url, HttpPolicy())


def test_allow_list_by_host_and_by_cidr(server):
    assert send("GET", server.url + "/", policy=HttpPolicy(allow_hosts=frozenset({"127.0.0.0/8"}))).status == 200
    assert send("GET", server.url + "/", policy=LOCAL).status == 200


def test_a_redirect_to_a_refused_address_is_refused(server):
    port = server.url.rsplit(":", 1)[1]
    server.route("GET", "/go", status=302, headers={"Location": f"http://127.0.0.2:{port}/inside"})
    with pytest.raises(BlockedURLError, match="127.0.0.2"):
        send("GET", server.url + "/go", policy=LOCAL)
    assert [r.path for r in server.requests] == ["/go"]


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (408, True), (400, False), (404, False), (422, False)]
)
def test_statuses_are_classified_for_the_retry_policy(server, status, retryable):
    server.route("POST", "/x", status=status, body={"error": "vendor says no"})
    with pytest.raises(HttpError) as exc:
        send("POST", server.url + "/x", policy=LOCAL, json={})
    assert exc.value.retryable is retryable and exc.value.status == status
    assert "vendor says no" in str(exc.value)


def test_429_honours_retry_after(server):
    server.route("GET", "/slow-down", status=429, headers={"Retry-After": "7"})
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/slow-down", policy=LOCAL)
    assert exc.value.retryable and exc.value.retry_after == 7.0


def test_connection_refused_and_timeouts_are_retryable(server):
    server.route("GET", "/hang", delay=2)
    with pytest.raises(HttpError) as exc:
        send("GET", server.url + "/hang", policy=LOCAL, timeout=0.3)
    assert exc.value.retryable and "timed out" in str(exc.value)
    closed = FakeServer()
    url = closed.url
    closed.close()
    with pytest.raises(HttpError) as exc:
        send("GET", url + "/", policy=LOCAL)
    assert exc.value.retryable


def test_an_oversized_response_is_refused(server):
    server.route("GET", "/big", body="x" * 5000)
    with pytest.raises(HttpError, match="larger than 1000 bytes"):
        send(
            "GET", server.url + "/big", policy=HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}), max_response_bytes=1000)
        )


def test_messages_never_carry_user_info_or_query_strings(server):
    server.route("GET", "/secret", status=400, body={"error": "bad"})
    with pytest.raises(HttpError) as exc:
        send("GET", server.url.replace("http://", "http://me:hunter2@") + "/secret?token=abc", policy=LOCAL)
    assert "hunter2" not in str(exc.value) and "token=abc" not in str(exc.value)
