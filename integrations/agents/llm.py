"""LLM providers through the official SDKs: OpenAI-compatible (any base URL) and Anthropic.

Both are asked for JSON matching the action's schema (OpenAI: response_format json_schema; Anthropic: a
forced tool call), with explicit timeouts and no SDK-level retries (the step's retry policy decides).
The SDKs fetch through http.sdk_client: every request passes the SSRF guard at the address it connects to
(no second lookup to rebind) and redirects are refused. The key comes from the agent's own connection only
(never the server's environment); provider errors are summarised, never echoed. Model output is parsed as
data, never evaluated.
"""

from __future__ import annotations

import json

import anthropic
import openai

from executions.engine.errors import StepError

from .. import http
from ..connectors import policy
from ..redaction import redact
from . import connection_problem

MESSAGE_CHARS = 200  # of a provider's error message: enough to act on, too short to carry a whole body

# USD per million tokens (input, output) for cost estimates; unknown models cost 0 (shown as an estimate).
PRICES = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "claude-3-5-haiku-latest": (0.8, 4.0),
    "claude-sonnet-4-5": (3.0, 15.0),
}


def _prompt(agent, request: dict, previous_error: str | None) -> str:
    parts = [f"Action: {request['action']}", f"Input: {json.dumps(request.get('input'), default=str)}"]
    for key in (
        "labels",
        "rules",
        "criteria",
        "thresholds",
        "fields",
        "question",
        "instruction",
        "template",
        "subject",
    ):
        if key in request:
            parts.append(f"{key}: {json.dumps(request[key], default=str)}")
    if previous_error:
        parts.append(f"Your previous answer was invalid ({previous_error}). Answer again with valid JSON.")
    return "\n".join(parts)


def _system(agent) -> str:
    return f"You are {agent.role or agent.name}. {agent.instructions}\nAnswer only with JSON matching the schema."


def _usage(model: str, provider: str, tokens_in: int, tokens_out: int) -> dict:
    price_in, price_out = PRICES.get(model, (0.0, 0.0))
    cost = round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 8)
    return {
        "provider": provider,
        "model": model,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_usd": cost,
    }


def _credentials(agent) -> dict:
    """The agent's connection credentials, once the connection fits the provider and its base URL is allowed."""
    problem = connection_problem(agent.provider, agent.connection)
    if problem:
        raise StepError(f"agent '{agent.name}': {problem}")
    creds = agent.connection.credentials
    if not creds.get("api_key") and agent.connection.service != "openai_compatible":
        raise StepError(f"agent '{agent.name}' needs a connection with an api_key for {agent.provider}")
    if creds.get("base_url"):
        try:
            http.check_url(creds["base_url"], policy())
        except http.HttpError as exc:
            raise StepError(redact(f"agent '{agent.name}': base URL refused: {exc}", creds)) from None
    return creds


def _options(creds: dict, timeout: float) -> dict:
    """The SDK client's arguments: our guarded httpx client, the key given explicitly (no environment fallback)."""
    return {
        "api_key": creds.get("api_key") or "",
        "base_url": creds.get("base_url") or None,
        "timeout": timeout,
        "max_retries": 0,
        "http_client": http.sdk_client(policy(), timeout),
    }


class OpenAIProvider:
    """OpenAI's Chat Completions API, or any server speaking it (a local model server via base_url)."""

    can_retry = True

    def perform(self, agent, request, *, schema, timeout, previous_error=None):
        creds = _credentials(agent)
        client = openai.OpenAI(organization=creds.get("organization") or None, **_options(creds, timeout))
        try:
            response = client.chat.completions.create(
                model=agent.model or "gpt-4o-mini",
                temperature=agent.temperature,
                max_tokens=agent.max_tokens,
                messages=[
                    {"role": "system", "content": _system(agent)},
                    {"role": "user", "content": _prompt(agent, request, previous_error)},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": request["action"], "schema": schema, "strict": False},
                },
            )
        except openai.APIError as exc:
            raise _mapped(exc, creds) from None
        finally:
            client.close()
        usage = response.usage
        output = _json(response.choices[0].message.content or "")
        return {**output, "usage": _usage(response.model, "openai", usage.prompt_tokens, usage.completion_tokens)}


class AnthropicProvider:
    """Anthropic's Messages API with a forced tool call whose input schema is the action's schema."""

    can_retry = True

    def perform(self, agent, request, *, schema, timeout, previous_error=None):
        creds = _credentials(agent)
        client = anthropic.Anthropic(**_options(creds, timeout))
        client.auth_token = None  # the SDK read ANTHROPIC_AUTH_TOKEN: the server's token must not go to a user's URL
        try:
            response = client.messages.create(
                model=agent.model or "claude-3-5-haiku-latest",
                max_tokens=agent.max_tokens,
                temperature=agent.temperature,
                system=_system(agent),
                messages=[{"role": "user", "content": _prompt(agent, request, previous_error)}],
                tools=[{"name": "respond", "description": "Give the answer.", "input_schema": schema}],
                tool_choice={"type": "tool", "name": "respond"},
            )
        except anthropic.APIError as exc:
            raise _mapped(exc, creds) from None
        finally:
            client.close()
        block = next((b for b in response.content if b.type == "tool_use"), None)
        output = dict(block.input) if block is not None else {}
        usage = response.usage
        return {**output, "usage": _usage(response.model, "anthropic", usage.input_tokens, usage.output_tokens)}


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"_invalid": text[:500]}
    return value if isinstance(value, dict) else {"_invalid": text[:500]}


def _mapped(exc: Exception, creds: dict) -> StepError:
    """Connection problems, time-outs, 429 and 5xx are retryable; refused addresses, redirects and the rest are not."""
    refused = http.blocked_cause(exc)
    if refused is not None:  # the guard refused an address (or could not resolve it) inside the SDK's request
        return StepError(redact(f"model provider: {refused}", creds), retryable=refused.retryable)
    status = getattr(exc, "status_code", None)
    if status is not None and 300 <= status < 400:
        return StepError(
            f"model provider answered HTTP {status} (a redirect), which is refused: set the base URL to the API itself"
        )
    retryable = status is None or status == 429 or status >= 500
    response = getattr(exc, "response", None)
    retry_after = http.parse_retry_after(response.headers.get("retry-after")) if response is not None else None
    short = _short(getattr(exc, "body", None)) if status else str(exc)
    summary = (f"HTTP {status}" if status else type(exc).__name__) + (f": {short}" if short else "")
    message = redact(summary, creds)
    return StepError(f"model provider error: {message}", retryable=retryable, retry_after=retry_after)


def _short(body) -> str:
    """The provider's own error message, on one line and cut short; never the whole body."""
    inner = body.get("error", body) if isinstance(body, dict) else body
    text = inner.get("message", "") if isinstance(inner, dict) else inner
    text = " ".join(str(text or "").split())
    return text[:MESSAGE_CHARS] + ("…" if len(text) > MESSAGE_CHARS else "")


PROVIDERS = {"openai": OpenAIProvider(), "anthropic": AnthropicProvider()}
