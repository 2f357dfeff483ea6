"""OpenAI-compatible and Anthropic providers against a local fake server speaking their APIs."""

import json

import pytest

from executions.engine.errors import StepError
from integrations.agents import AgentRunner
from integrations.models import Connection
from tests.fakes import FakeServer
from workflows.models import Agent

pytestmark = pytest.mark.django_db
KEY = "sk-canary-98765"
CLASSIFY = {"action": "classify", "input": {"text": "site is down"}, "labels": ["low", "critical"]}


class Ctx:
    timeout = 5


@pytest.fixture
def server(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    fake = FakeServer()
    yield fake
    fake.close()


def agent(provider, server, base):
    connection = Connection.objects.create(
        service=provider, credentials={"api_key": KEY, "base_url": server.url + base}
    )
    return Agent.objects.create(
        name=f"{provider} agent",
        role="Support triage",
        instructions="Be brief.",
        provider=provider,
        model="test-model",
        allowed_actions=["classify"],
        connection=connection,
    )


def openai_answer(content, tokens=(12, 5)):
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)},
    }


def anthropic_answer(tool_input):
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-latest",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "respond", "input": tool_input}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 20, "output_tokens": 7},
    }


def test_openai_request_shape_and_structured_output(server):
    a = agent("openai", server, "/v1")
    server.route(
        "POST", "/v1/chat/completions", body=openai_answer(json.dumps({"label": "critical", "confidence": 0.9}))
    )
    result = AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())
    [request] = server.requests
    body = request.json()
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == "test-model" and body["messages"][0]["role"] == "system"
    assert "Support triage" in body["messages"][0]["content"] and "site is down" in body["messages"][1]["content"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["label"] == {"enum": ["low", "critical"]}
    assert result["label"] == "critical" and result["usage"]["input_tokens"] == 12
    assert result["usage"]["cost_usd"] == pytest.approx((12 * 0.15 + 5 * 0.6) / 1e6)


def test_invalid_output_is_retried_once_with_the_error_then_fails_clearly(server):
    a = agent("openai", server, "/v1")
    server.route("POST", "/v1/chat/completions", body=openai_answer(json.dumps({"label": "purple"})))
    with pytest.raises(StepError) as exc:
        AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())
    assert len(server.requests) == 2 and "invalid" in server.requests[1].json()["messages"][1]["content"]
    assert "does not fit the classify schema" in str(exc.value) and "label" in str(exc.value)


def test_provider_errors_are_classified_and_never_echo_the_key(server):
    a = agent("openai", server, "/v1")
    server.route("POST", "/v1/chat/completions", status=500, body={"error": {"message": f"boom {KEY}"}})
    with pytest.raises(StepError) as exc:
        AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())
    assert exc.value.retryable and KEY not in str(exc.value)
    server.route("POST", "/v1/chat/completions", status=401, body={"error": {"message": "bad key"}})
    with pytest.raises(StepError) as exc:
        AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())
    assert not exc.value.retryable


def test_anthropic_forced_tool_call(server):
    a = agent("anthropic", server, "")
    server.route("POST", "/v1/messages", body=anthropic_answer({"label": "low", "confidence": 0.7}))
    result = AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())
    [request] = server.requests
    body = request.json()
    assert request.headers["X-Api-Key"] == KEY and "anthropic-version" in {k.lower() for k in request.headers}
    assert body["tool_choice"] == {"type": "tool", "name": "respond"} and body["system"].startswith(
        "You are Support triage"
    )
    assert result["label"] == "low" and result["usage"]["output_tokens"] == 7


def test_a_private_base_url_is_refused_unless_allow_listed(server, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = []
    a = agent("openai", server, "/v1")
    with pytest.raises(StepError, match="base URL refused"):
        AgentRunner().perform(a.name, CLASSIFY, ctx=Ctx())
