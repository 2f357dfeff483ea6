"""OpenAI and OpenAI-compatible servers: the connections an agent's model key lives in (encrypted like any other).

Agents call the models through the SDK (integrations/agents/llm.py); here are the services, their credentials
and the read-only call "Test connection" makes: GET {base_url}/models with the key as a Bearer header.
"""

from ..actions import register
from . import CONNECTION_ONLY, RestAction, Service, as_dict, base_url_field, register_service

DEFAULT_BASE = "https://api.openai.com/v1"
API_KEY = {"label": "API key", "secret": True, "required": True, "help": "Platform → API keys (sk-…)"}

register_service(
    Service(
        name="openai",
        label="OpenAI",
        category="AI models",
        docs_url="https://platform.openai.com/docs/api-reference/models/list",
        credential_fields={
            "api_key": API_KEY,
            "organization": {"label": "Organization ID", "secret": False, "required": False, "help": "org-…"},
            "base_url": base_url_field(f"Leave empty for {DEFAULT_BASE} (Azure or a proxy: its /v1 URL)"),
        },
        test_action="openai.list_models",
    )
)
register_service(
    Service(
        name="openai_compatible",
        label="OpenAI-compatible API",
        category="AI models",
        docs_url="https://platform.openai.com/docs/api-reference/chat",
        credential_fields={
            "base_url": {
                "label": "API base URL",
                "secret": False,
                "required": True,
                "help": "The server's /v1 URL, e.g. http://models.internal:11434/v1 (private hosts: allow-list them)",
            },
            "api_key": {**API_KEY, "required": False, "help": "Leave empty when the server needs none"},
        },
        test_action="openai_compatible.list_models",
    )
)


class ListModels(RestAction):
    """GET /models: checks the key and the base URL (used by "Test connection")."""

    http_method = "GET"
    endpoint = "/models"
    read_only = True
    input_schema = CONNECTION_ONLY
    category = "AI models"
    default_base_url = DEFAULT_BASE

    def headers(self, creds, ctx):
        key = creds.get("api_key")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def parse(self, result, inputs):
        models = [m.get("id") for m in as_dict(result.body).get("data", []) if isinstance(m, dict)]
        return {"models": len(models), "first": models[:5]}


@register
class OpenAIListModels(ListModels):
    name = "openai.list_models"
    example = {}
    label = "OpenAI: list the models (checks the key)"
    service = "openai"


@register
class CompatibleListModels(ListModels):
    name = "openai_compatible.list_models"
    example = {}
    label = "OpenAI-compatible API: list the models"
    service = "openai_compatible"

    def base_url(self, creds, ctx):
        return self.credential(creds, "base_url", what="base URL").rstrip("/")
