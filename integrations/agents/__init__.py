"""Agents at run time: look the agent up, call its provider, validate the structured output."""

from __future__ import annotations

import jsonschema

from executions.engine.errors import StepError

from .offline import OfflineProvider
from .schemas import schema_for

PROVIDERS = {"offline": OfflineProvider()}


def provider_for(name: str):
    if name not in PROVIDERS:
        from . import llm  # the SDK-backed providers load only when an agent uses one

        PROVIDERS.update(llm.PROVIDERS)
    return PROVIDERS[name]


class AgentRunner:
    """The engine's AgentPort."""

    def get(self, name: str) -> dict:
        from workflows.models import Agent

        agent = Agent.objects.filter(name=name).first()
        if agent is None:
            raise StepError(f"no agent named '{name}': add it under Workflows → Agents")
        return {"name": agent.name, "allowed_actions": list(agent.allowed_actions or [])}

    def perform(self, name: str, request: dict, *, ctx) -> dict:
        from workflows.models import Agent

        agent = Agent.objects.select_related("connection").get(name=name)
        provider = provider_for(agent.provider)
        schema = schema_for(request)
        output = provider.perform(agent, request, schema=schema, timeout=ctx.timeout)
        problem = _invalid(output, schema)
        if problem and provider.can_retry:
            output = provider.perform(agent, request, schema=schema, timeout=ctx.timeout, previous_error=problem)
            problem = _invalid(output, schema)
        if problem:
            raise StepError(
                f"agent '{name}' returned output that does not fit the {request['action']} schema: {problem}"
            )
        return output


def _invalid(output, schema: dict) -> str | None:
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(output))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "output"
    return f"{where}: {error.message}"
