"""LLM providers through the official SDKs: OpenAI-compatible (any base URL) and Anthropic.

Both are asked for JSON matching the action's schema (OpenAI: response_format json_schema; Anthropic: a
forced tool call), with explicit timeouts and no SDK-level retries (the step's retry policy decides).
A user-set base URL passes the SSRF guard; model output is parsed as data, never evaluated.
"""

from __future__ import annotations

import json

import anthropic
import openai

from executions.engine.errors import StepError

from .. import http
from ..connectors import policy, redact

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
    creds = agent.connection.credentials if agent.connection else {}
    if not creds.get("api_key"):
        raise StepError(f"agent '{agent.name}' needs a connection with an api_key for {agent.provider}")
    if creds.get("base_url"):
        try:
            http.check_url(creds["base_url"], policy())
        except http.HttpError as exc:
            raise StepError(f"agent '{agent.name}': base URL refused: {exc}") from None
    return creds


class OpenAIProvider:
    """OpenAI's Chat Completions API, or any server speaking it (a local model server via base_url)."""

    can_retry = True

    def perform(self, agent, request, *, schema, timeout, previous_error=None):
        creds = _credentials(agent)
        client = openai.OpenAI(
            api_key=creds["api_key"], base_url=creds.get("base_url") or None, timeout=timeout, max_retries=0
        )
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
        usage = response.usage
        output = _json(response.choices[0].message.content or "")
        return {**output, "usage": _usage(response.model, "openai", usage.prompt_tokens, usage.completion_tokens)}


class AnthropicProvider:
    """Anthropic's Messages API with a forced tool call whose input schema is the action's schema."""

    can_retry = True

    def perform(self, agent, request, *, schema, timeout, previous_error=None):
        creds = _credentials(agent)
        client = anthropic.Anthropic(
            api_key=creds["api_key"], base_url=creds.get("base_url") or None, timeout=timeout, max_retries=0
        )
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
    """Connection problems, time-outs, 429 and 5xx are retryable; the rest (bad request, auth) are not."""
    status = getattr(exc, "status_code", None)
    retryable = status is None or status == 429 or status >= 500
    response = getattr(exc, "response", None)
    retry_after = http.parse_retry_after(response.headers.get("retry-after")) if response is not None else None
    message = redact(f"{type(exc).__name__}: {exc}", creds)
    return StepError(f"model provider error: {message}", retryable=retryable, retry_after=retry_after)


PROVIDERS = {"openai": OpenAIProvider(), "anthropic": AnthropicProvider()}
