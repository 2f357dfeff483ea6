"""Where the model SDKs may send a prompt and a key: only the checked address, no redirects, no server-side keys.

Names resolve through FakeDNS and every server is local: a test that fails shows what the old code reached.
"""

import base64
import json

import pytest

from executions.engine.errors import StepError
from integrations.agents import AgentRunner
from integrations.models import Connection
from tests.fakes import FakeDNS, FakeServer
from workflows.models import Agent

pytestmark = pytest.mark.django_db
KEY = "sk-canary-outbound-4321"
CLASSIFY = {"action": "classify", "input": {"text": "site is down"}, "labels": ["low", "critical"]}
LOW = json.dumps({"label": "low"})
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
ANSWERS = {
    "openai": {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": LOW}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    "anthropic": {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "tool_use", "id": "t", "name": "respond", "input": {"label": "low"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
}


class Ctx:
    timeout = 5


@pytest.fixture
def servers():
    model, internal = FakeServer(), FakeServer()  # the model's host, and a service nobody may reach through it
    yield model, internal
    model.close()
    internal.close()


def port(server) -> int:
    return server.httpd.server_address[1]


def agent(provider: str, base_url: str, service: str | None = None, **credentials) -> Agent:
    creds = {"api_key": KEY, "base_url": base_url, **credentials}
    connection = Connection.objects.create(service=service or provider, name=f"{provider} key", credentials=creds)
    return Agent.objects.create(name=f"{provider} agent", provider=provider, model="m", connection=connection)


def base(provider: str, host: str, server) -> str:
    return f"http://{host}:{port(server)}" + ("/v1" if provider == "openai" else "")


def perform(a: Agent):
    return AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_llm_provider_refuses_redirect_to_link_local(provider, servers, settings, monkeypatch):
    model, internal = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["llm.test"]  # the model host is allowed by name; nothing else is
    # The metadata address answers from a local fake: had the SDK followed the redirect, it would have arrived.
    FakeDNS(monkeypatch, {"llm.test": ["127.0.0.1"], "169.254.169.254": ["127.0.0.1"]})
    steal = f"http://169.254.169.254:{port(internal)}/latest/meta-data/iam"
    model.route("POST", PATHS[provider], status=307, body={}, headers={"Location": steal})
    with pytest.raises(StepError) as exc:
        perform(agent(provider, base(provider, "llm.test", model)))
    assert internal.requests == [] and len(model.requests) == 1
    assert "redirect" in str(exc.value) and not exc.value.retryable and KEY not in str(exc.value)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_llm_provider_refuses_redirect_to_a_private_address(provider, servers, settings, monkeypatch):
    model, internal = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["llm.test"]
    FakeDNS(monkeypatch, {"llm.test": ["127.0.0.1"]})
    model.route("POST", PATHS[provider], status=302, body={}, headers={"Location": f"{internal.url}/admin"})
    with pytest.raises(StepError, match="redirect"):
        perform(agent(provider, base(provider, "llm.test", model)))
    assert internal.requests == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_dns_rebinding_to_loopback_is_refused_for_llm_base_url(provider, servers, settings, monkeypatch):
    model, _ = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = []
    # The first answer is public (the check passes), every later one is loopback (where the old SDK connected).
    dns = FakeDNS(monkeypatch, {"rebind.test": ["93.184.216.34", "127.0.0.1"]})
    model.route("POST", PATHS[provider], body=ANSWERS[provider])
    with pytest.raises(StepError) as exc:
        perform(agent(provider, base(provider, "rebind.test", model)))
    assert model.requests == [] and dns.lookups["rebind.test"] >= 2
    assert "loopback" in str(exc.value) and not exc.value.retryable


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_llm_provider_connects_to_the_address_it_checked(provider, servers, settings, monkeypatch):
    model, _ = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["llm.test"]
    dns = FakeDNS(monkeypatch, {"llm.test": ["127.0.0.1"]})
    model.route("POST", PATHS[provider], body=ANSWERS[provider])
    assert perform(agent(provider, base(provider, "llm.test", model)))["label"] == "low"
    [request] = model.requests
    assert request.headers["Host"] == f"llm.test:{port(model)}"  # the name travels; the socket went to the check
    assert dns.lookups["llm.test"] == 2  # the early check, then the transport's check it connects by


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_provider_error_bodies_are_summarised_never_echoed(provider, servers, settings):
    model, _ = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    basic = base64.b64encode(f"proxy:{KEY}".encode()).decode()
    error = {"type": "server_error", "message": f"upstream said Basic {basic} " + "x" * 2000}
    model.route("POST", PATHS[provider], status=500, body={"error": error, "debug": {"trace": "TRACE-internal-9"}})
    with pytest.raises(StepError) as exc:
        perform(agent(provider, base(provider, "127.0.0.1", model)))
    message = str(exc.value)
    assert "HTTP 500" in message and "upstream said" in message and exc.value.retryable
    assert "TRACE-internal-9" not in message and len(message) < 400
    assert KEY not in message and basic not in message


def test_an_agent_never_sends_another_services_key(servers, settings):
    model, _ = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    model.route("POST", PATHS["openai"], body=ANSWERS["openai"])
    a = agent("openai", base("openai", "127.0.0.1", model), service="sendgrid")  # a SendGrid key, not a model's
    with pytest.raises(StepError, match="sendgrid connection") as exc:
        perform(a)
    assert model.requests == [] and not exc.value.retryable


def test_the_servers_own_anthropic_token_never_goes_to_an_agent_base_url(servers, settings, monkeypatch):
    model, _ = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "server-env-token-777")
    model.route("POST", PATHS["anthropic"], body=ANSWERS["anthropic"])
    perform(agent("anthropic", base("anthropic", "127.0.0.1", model)))
    [request] = model.requests
    assert "server-env-token-777" not in json.dumps(request.headers) and request.headers["X-Api-Key"] == KEY


def test_an_openai_compatible_server_without_a_key_gets_no_key_from_the_environment(servers, settings, monkeypatch):
    model, _ = servers
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-env-888")
    model.route("POST", PATHS["openai"], body=ANSWERS["openai"])
    a = agent("openai", base("openai", "127.0.0.1", model), service="openai_compatible", api_key="")
    assert perform(a)["label"] == "low"
    [request] = model.requests
    assert "sk-server-env-888" not in json.dumps(request.headers) and "Authorization" not in request.headers
