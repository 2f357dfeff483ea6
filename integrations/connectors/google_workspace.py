"""Google Workspace (Admin SDK Directory API): create a user, i.e. a new e-mail account.

Auth: an OAuth2 access token (Sign in with Google, scope admin.directory.user, by a Workspace admin) as a Bearer
header. The Directory API has no idempotency header; creating an existing primaryEmail fails with 409
("Entity already exists."), so a retried creation never makes a second account.
"""

import secrets
import string
from dataclasses import replace

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, OAuth, RestAction, Service, base_url_field, register_service

SCOPE = "https://www.googleapis.com/auth/admin.directory.user"
PASSWORD = "new_user_password"  # carried as a credential of the call so every redaction hides it
SYMBOLS = "!#$%&*+-=?@^_"

GOOGLE_WORKSPACE = register_service(
    Service(
        name="google_workspace",
        label="Google Workspace",
        category="Productivity",
        docs_url="https://developers.google.com/workspace/admin/directory/reference/rest/v1/users",
        credential_fields={
            "access_token": {
                "label": "Access token, or use Sign in with Google",
                "secret": True,
                "required": False,
                "help": "A pasted token expires after an hour; Sign in with Google refreshes its own.",
            },
            "client_id": {
                "label": "OAuth client ID (for Sign in with Google)",
                "secret": False,
                "required": False,
                "help": "Google Cloud console → APIs & Services → Credentials (Web application); enable Admin SDK API.",
            },
            "client_secret": {
                "label": "OAuth client secret",
                "secret": True,
                "required": False,
                "help": "Next to the client ID.",
            },
            "oauth_base_url": {
                "label": "OAuth base URL (tests, proxies)",
                "secret": False,
                "required": False,
                "help": "Leave empty for Google's own.",
            },
            "base_url": base_url_field("Leave empty for https://admin.googleapis.com"),
        },
        test_action="google_workspace.list_users",
        credential_sets=(("access_token",), ("client_id", "client_secret")),
        oauth=OAuth(
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            scopes=(SCOPE,),
            authorize_params=(("access_type", "offline"), ("prompt", "consent")),  # else no refresh token
        ),
    )
)


def strong_password(length: int = 24) -> str:
    """A random password with lower and upper case letters, digits and symbols (Google takes 8–100 ASCII)."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, SYMBOLS)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


class GoogleWorkspaceAction(RestAction):
    service = "google_workspace"
    category = "Productivity"
    http_method = "GET"
    default_base_url = "https://admin.googleapis.com"
    endpoint = "/admin/directory/v1/users"
    json_content_type = True

    def headers(self, creds, ctx):
        token = self.credential(creds, "access_token", what="access token", hint="use Sign in with Google")
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@register
class CreateUser(GoogleWorkspaceAction):
    """Create a user (e-mail account); without a password a strong one is generated and never returned."""

    name = "google_workspace.create_user"
    example = {
        "primary_email": "{{trigger.employee.email}}",
        "given_name": "{{trigger.employee.first_name}}",
        "family_name": "{{trigger.employee.last_name}}",
        "change_password_at_next_login": True,
    }
    label = "Google Workspace: create a user (e-mail account)"
    http_method = "POST"
    input_schema = {
        "type": "object",
        "required": ["primary_email", "given_name", "family_name"],
        "properties": {
            "connection": CONNECTION,
            "primary_email": {
                "type": "string",
                "title": "Primary email",
                "format": "email",
                "description": "The new address, on one of the Workspace's domains",
            },
            "given_name": {"type": "string", "title": "First name", "minLength": 1, "maxLength": 60},
            "family_name": {"type": "string", "title": "Last name", "minLength": 1, "maxLength": 60},
            "password": {
                "type": "string",
                "title": "Password",
                "minLength": 8,
                "maxLength": 100,
                "description": "Leave empty to generate a strong one (it is never shown in results)",
            },
            "change_password_at_next_login": {
                "type": "boolean",
                "title": "Change password at next sign-in",
                "default": True,
            },
            "org_unit_path": {"type": "string", "title": "Organizational unit", "default": "/"},
            "recovery_email": {"type": "string", "title": "Recovery email", "format": "email"},
        },
    }

    def with_password(self, inputs: dict, ctx):
        """The context whose credentials carry this call's password, so every redaction covers it."""
        password, credentials = inputs.get("password") or strong_password(), ctx.credentials
        return replace(ctx, credentials=lambda service, name: {**credentials(service, name), PASSWORD: password})

    def run(self, inputs, ctx):
        return super().run(inputs, self.with_password(inputs, ctx))

    def describe(self, inputs, ctx):
        return super().describe(inputs, self.with_password(inputs, ctx))

    def build(self, inputs, creds, ctx):
        # The body takes the password from the credentials, where with_password put it.
        return super().build({**inputs, PASSWORD: creds.get(PASSWORD)}, creds, ctx)

    def payload(self, inputs):
        body = {
            "primaryEmail": inputs["primary_email"],
            "name": {"givenName": inputs["given_name"], "familyName": inputs["family_name"]},
            "password": inputs.get(PASSWORD) or strong_password(),
            "changePasswordAtNextLogin": inputs.get("change_password_at_next_login", True),
            "orgUnitPath": inputs.get("org_unit_path") or "/",
        }
        if inputs.get("recovery_email"):
            body["recoveryEmail"] = inputs["recovery_email"]
        return body

    def parse(self, result, inputs):
        user = result.body
        return {
            "id": user.get("id"),
            "primary_email": user.get("primaryEmail"),
            "org_unit_path": user.get("orgUnitPath"),
            "password_generated": not inputs.get("password"),
            "change_password_at_next_login": user.get("changePasswordAtNextLogin"),
        }


@register
class ListUsers(GoogleWorkspaceAction):
    """GET users?customer=my_customer&maxResults=1: one user of the account (used by "Test connection")."""

    name = "google_workspace.list_users"
    example = {}
    label = "Google Workspace: check the connection (list one user)"
    read_only = True
    input_schema = CONNECTION_ONLY

    def params(self, inputs):
        return {"customer": "my_customer", "maxResults": 1}

    def parse(self, result, inputs):
        users = result.body.get("users") or [{}]
        return {"customer_id": users[0].get("customerId"), "first_user": users[0].get("primaryEmail")}
