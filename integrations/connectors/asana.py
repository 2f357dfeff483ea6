"""Asana (REST API 1.0): create tasks. Auth: a personal access token as a Bearer header.

Asana wraps request and response bodies in {"data": …}. It documents no idempotency header: a create retried
after a lost answer may add a second task.
"""

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, RestAction, Service, as_dict, base_url_field, register_service

ASANA = register_service(
    Service(
        name="asana",
        label="Asana",
        category="Project Management",
        docs_url="https://developers.asana.com/reference/rest-api-reference",
        credential_fields={
            "personal_access_token": {
                "label": "Personal access token",
                "secret": True,
                "required": True,
                "help": "My settings → Apps → Developer console → Create new token",
            },
            "base_url": base_url_field("Leave empty for https://app.asana.com"),
        },
        test_action="asana.current_user",
    )
)


def data_of(body) -> dict:
    """The {"data": …} payload of an Asana answer."""
    return as_dict(body).get("data") or {}


class AsanaAction(RestAction):
    service = "asana"
    category = "Project Management"
    default_base_url = "https://app.asana.com"

    def base_url(self, creds, ctx):
        return f"{super().base_url(creds, ctx)}/api/1.0"

    def headers(self, creds, ctx):
        token = self.credential(creds, "personal_access_token", what="personal access token")
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@register
class CreateTask(AsanaAction):
    """Create a task in a workspace or projects (POST /api/1.0/tasks)."""

    name = "asana.create_task"
    example = {
        "name": "Onboard {{trigger.employee.name}}",
        "notes": "Week 1 checklist",
        "projects": ["1204567890"],
        "due_on": "2026-01-15",
    }
    label = "Asana: create a task"
    endpoint = "/tasks"
    input_schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "connection": CONNECTION,
            "name": {"type": "string", "title": "Name", "minLength": 1},
            "notes": {"type": "string", "title": "Notes", "description": "Plain-text description"},
            "projects": {
                "type": "array",
                "title": "Project IDs",
                "items": {"type": "string"},
                "description": "GIDs of the projects to add the task to",
            },
            "workspace": {
                "type": "string",
                "title": "Workspace ID",
                "description": "GID; not needed when projects are given",
            },
            "assignee": {"type": "string", "title": "Assignee", "description": "A user GID, an email, or me"},
            "due_on": {"type": "string", "title": "Due date", "format": "date"},
        },
    }
    FIELDS = ("name", "notes", "projects", "workspace", "assignee", "due_on")

    def payload(self, inputs):
        # Asana needs the task's workspace, given directly or through its projects.
        if not inputs.get("workspace") and not inputs.get("projects"):
            raise StepError("asana: set a workspace or at least one project")
        return {"data": {k: inputs[k] for k in self.FIELDS if inputs.get(k) not in (None, "", [])}}

    def parse(self, result, inputs):
        task = data_of(result.body)
        return {"gid": task.get("gid"), "name": task.get("name"), "url": task.get("permalink_url")}


@register
class CurrentUser(AsanaAction):
    """The user the token acts as and their workspaces (used by "Test connection")."""

    name = "asana.current_user"
    example = {}
    label = "Asana: check the token"
    http_method = "GET"
    endpoint = "/users/me"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        user = data_of(result.body)
        workspaces = [{"gid": w.get("gid"), "name": w.get("name")} for w in user.get("workspaces") or []]
        return {"gid": user.get("gid"), "name": user.get("name"), "workspaces": workspaces}
