"""Agents at run time: look the agent up, call its provider, validate the structured output."""

from __future__ import annotations

import jsonschema

from executions.engine.errors import StepError

from .offline import OfflineProvider
from .schemas import schema_for

PROVIDERS = {"offline": OfflineProvider()}
# The connection services whose key each provider may use: an agent never sends another service's secret.
CONNECTION_SERVICES = {"openai": ("openai", "openai_compatible"), "anthropic": ("anthropic",)}


def connection_problem(provider: str, connection) -> str | None:
    """Why this connection cannot serve an agent of this provider, or None when it fits (or none is needed)."""
    services = CONNECTION_SERVICES.get(provider)
    if services is None:
        return None
    wanted = " or ".join(services)
    if connection is None:
        return f"{provider} agents need a connection holding their API key ({wanted})"
    if connection.service not in services:
        return f"connection '{connection.name}' is a {connection.service} connection; {provider} agents need {wanted}"
    return None


def provider_for(name: str):
    if name not in PROVIDERS:
        from . import llm  # the SDK-backed providers load only when an agent uses one

        PROVIDERS.update(llm.PROVIDERS)
    return PROVIDERS[name]


class AgentRunner:
    """The engine's AgentPort; model calls act for `actor`, who must be allowed the agent's connection."""

    def __init__(self, actor=None):
        self.actor = actor

    def get(self, name: str) -> dict:
        from workflows.models import Agent

        agent = Agent.objects.filter(name=name).first()
        if agent is None:
            raise StepError(f"no agent named '{name}': add it under Workflows → Agents")
        return {"name": agent.name, "allowed_actions": list(agent.allowed_actions or [])}

    def perform(self, name: str, request: dict, *, ctx) -> dict:
        from workflows import authz
        from workflows.models import Agent

        agent = Agent.objects.select_related("connection").get(name=name)
        if agent.connection is not None and not authz.may(self.actor, "use", agent.connection):
            who = self.actor.get_username()
            raise StepError(f"permission error: {who} may not use the {agent.connection} connection")
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
