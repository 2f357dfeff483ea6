"""Jira Cloud (REST API v3): create issues and comment on them. Auth: HTTP Basic with an email and an API token.

v3 takes rich text as Atlassian Document Format (ADF); plain text from a step is turned into paragraphs.
Jira documents no idempotency header: a create retried after a lost answer may open a second issue.
"""

import re

from executions.engine.errors import StepError

from ..actions import register
from . import (
    CONNECTION,
    CONNECTION_ONLY,
    RestAction,
    Service,
    as_dict,
    base_url_field,
    basic,
    register_service,
    segment,
)

JIRA = register_service(
    Service(
        name="jira",
        label="Jira",
        category="Project Management",
        docs_url="https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/",
        credential_fields={
            "site": {
                "label": "Site",
                "secret": False,
                "required": True,
                "help": "acme for https://acme.atlassian.net",
            },
            "email": {
                "label": "Atlassian account email",
                "secret": False,
                "required": True,
                "help": "The account the API token belongs to",
            },
            "api_token": {
                "label": "API token",
                "secret": True,
                "required": True,
                "help": "id.atlassian.com → Security → API tokens",
            },
            "base_url": base_url_field("Leave empty for https://{site}.atlassian.net"),
        },
        test_action="jira.myself",
    )
)
ISSUE_KEY = {"type": "string", "title": "Issue key", "minLength": 1, "description": "e.g. OPS-42 (or the issue ID)"}


def adf(text: str) -> dict:
    """An ADF document: one paragraph per blank-line-separated block, single newlines as hard breaks."""
    blocks = [block for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if block.strip()]
    return {"type": "doc", "version": 1, "content": [paragraph(block) for block in blocks]}


def paragraph(block: str) -> dict:
    content: list[dict] = []
    for number, line in enumerate(block.split("\n")):
        if number:
            content.append({"type": "hardBreak"})
        if line:  # ADF refuses empty text nodes
            content.append({"type": "text", "text": line})
    return {"type": "paragraph", "content": content}


def site_of(api_url: str) -> str:
    """The site root of a `self` link (https://acme.atlassian.net/rest/api/3/… → https://acme.atlassian.net)."""
    return api_url.split("/rest/api/")[0]


class JiraAction(RestAction):
    service = "jira"
    category = "Project Management"

    def base_url(self, creds, ctx):
        return self.tenant_url(creds, "site", ".atlassian.net")

    def headers(self, creds, ctx):
        if not creds.get("email") or not creds.get("api_token"):
            raise StepError("jira: the connection needs the account email and an API token")
        return {"Authorization": f"Basic {basic(creds['email'], creds['api_token'])}", "Accept": "application/json"}


@register
class CreateIssue(JiraAction):
    """Create an issue in a project (POST /rest/api/3/issue), the description as ADF."""

    name = "jira.create_issue"
    example = {
        "project_key": "SUP",
        "issue_type": "Task",
        "summary": "{{trigger.subject}}",
        "description": "{{trigger.body}}",
        "labels": ["escalated"],
    }
    label = "Jira: create an issue"
    endpoint = "/rest/api/3/issue"
    input_schema = {
        "type": "object",
        "required": ["project_key", "summary"],
        "properties": {
            "connection": CONNECTION,
            "project_key": {"type": "string", "title": "Project key", "minLength": 1, "description": "e.g. OPS"},
            "issue_type": {
                "type": "string",
                "title": "Issue type",
                "default": "Task",
                "description": "As named in the project: Task, Bug, Story…",
            },
            "summary": {"type": "string", "title": "Summary", "minLength": 1, "maxLength": 255},
            "description": {
                "type": "string",
                "title": "Description",
                "description": "Plain text; a blank line starts a paragraph",
            },
            "labels": {"type": "array", "title": "Labels", "items": {"type": "string", "pattern": "^\\S+$"}},
            "assignee_account_id": {"type": "string", "title": "Assignee account ID"},
            "priority": {"type": "string", "title": "Priority", "description": "e.g. High, Medium, Low"},
            "due_date": {"type": "string", "title": "Due date", "format": "date"},
        },
    }

    def payload(self, inputs):
        fields = {
            "project": {"key": inputs["project_key"]},
            "issuetype": {"name": inputs.get("issue_type") or "Task"},
            "summary": inputs["summary"],
        }
        given = {k: v for k, v in inputs.items() if v not in (None, "", [])}
        if "description" in given:
            fields["description"] = adf(given["description"])
        if "assignee_account_id" in given:
            fields["assignee"] = {"id": given["assignee_account_id"]}
        if "priority" in given:
            fields["priority"] = {"name": given["priority"]}
        if "due_date" in given:
            fields["duedate"] = given["due_date"]
        if "labels" in given:
            fields["labels"] = given["labels"]
        return {"fields": fields}

    def parse(self, result, inputs):
        body = as_dict(result.body)
        url = f"{site_of(body['self'])}/browse/{body.get('key')}" if body.get("self") else None
        return {"id": body.get("id"), "key": body.get("key"), "url": url}


@register
class AddComment(JiraAction):
    """Comment on an issue (POST /rest/api/3/issue/{key}/comment), the text as ADF."""

    name = "jira.add_comment"
    example = {"issue_key": "{{trigger.issue_key}}", "body": "Customer replied: {{trigger.body}}"}
    label = "Jira: comment on an issue"
    input_schema = {
        "type": "object",
        "required": ["issue_key", "body"],
        "properties": {
            "connection": CONNECTION,
            "issue_key": ISSUE_KEY,
            "body": {"type": "string", "title": "Comment", "minLength": 1, "description": "Plain text"},
        },
    }

    def path(self, inputs):
        return f"/rest/api/3/issue/{segment(inputs['issue_key'])}/comment"

    def payload(self, inputs):
        return {"body": adf(inputs["body"])}

    def parse(self, result, inputs):
        body = as_dict(result.body)
        url = None
        if body.get("self"):
            url = f"{site_of(body['self'])}/browse/{inputs['issue_key']}?focusedCommentId={body.get('id')}"
        return {"id": body.get("id"), "created": body.get("created"), "url": url}


@register
class Myself(JiraAction):
    """The account the API token acts as (used by "Test connection")."""

    name = "jira.myself"
    example = {}
    label = "Jira: check the API token"
    http_method = "GET"
    endpoint = "/rest/api/3/myself"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        body = as_dict(result.body)
        return {
            "account_id": body.get("accountId"),
            "display_name": body.get("displayName"),
            "active": body.get("active"),
        }
