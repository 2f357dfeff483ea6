"""Anthropic: the connection an agent's Claude key lives in (encrypted like any other).

Agents call the model through the SDK (integrations/agents/llm.py); "Test connection" makes the read-only
GET {base_url}/v1/models with the key in X-Api-Key and the API version header the SDK sends.
"""

from ..actions import register
from . import CONNECTION_ONLY, RestAction, Service, as_dict, base_url_field, register_service

DEFAULT_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"

register_service(
    Service(
        name="anthropic",
        label="Anthropic",
        category="AI models",
        docs_url="https://docs.anthropic.com/en/api/models-list",
        credential_fields={
            "api_key": {"label": "API key", "secret": True, "required": True, "help": "Console → API keys (sk-ant-…)"},
            "base_url": base_url_field(f"Leave empty for {DEFAULT_BASE} (without /v1)"),
        },
        test_action="anthropic.list_models",
    )
)


@register
class ListModels(RestAction):
    """GET /v1/models: checks the key (used by "Test connection")."""

    name = "anthropic.list_models"
    example = {}
    label = "Anthropic: list the models (checks the key)"
    service = "anthropic"
    category = "AI models"
    http_method = "GET"
    endpoint = "/v1/models"
    read_only = True
    input_schema = CONNECTION_ONLY
    default_base_url = DEFAULT_BASE

    def headers(self, creds, ctx):
        key = self.credential(creds, "api_key", what="API key")
        return {"X-Api-Key": key, "anthropic-version": API_VERSION}

    def parse(self, result, inputs):
        models = [m.get("id") for m in as_dict(result.body).get("data", []) if isinstance(m, dict)]
        return {"models": len(models), "first": models[:5]}
