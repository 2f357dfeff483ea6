"""The branches of the template library: the inputs that pick each path and the path they should take.

Shared by the in-process tests (tests/workflows/test_library.py) and the real-worker tests
(tests/e2e/test_templates_live.py), so both prove the same branches, and the same vendor requests on them.
"""

from __future__ import annotations

import hashlib
import json
from base64 import b64encode
from dataclasses import dataclass
from unittest.mock import ANY
from urllib.parse import parse_qsl

ARTICLE = {
    "title": "Reset your password",
    "body": "Use Forgot password. The site is down rarely.",
    "url": "https://help.example/reset",
}

# ticket subject, a knowledge-base article exists, urgency, the step that answers (escalations also alert Slack)
TICKETS = [
    ("How do I reset my password?", True, "low", "send_auto_response"),
    ("Site is down, total outage!", True, "critical", "escalate"),
    ("Weird bug in the export", False, "medium", "escalate"),
]

# lead fields over the sample, score label, last step (the run's output, after the CRM record)
LEADS = [
    ({"company_size": 800, "industry": "saas", "budget": 25000}, "hot", "lead_routed"),
    ({"company_size": 800, "industry": "retail", "budget": 0}, "warm", "lead_routed"),
    ({"company_size": 3, "industry": "retail", "budget": 0, "message": "just looking"}, "cold", "lead_routed"),
]
LEAD_ROUTES = {"hot": "notify_sales_rep", "warm": "add_to_nurture", "cold": "long_term_follow_up"}

# refund amount, the manager's decision (None: no approval asked), last step
REFUNDS = [(40, None, "send_confirmation"), (180, "approve", "send_confirmation"), (180, "reject", "tell_declined")]

# feedback text, the step it leads to
FEEDBACK = [("Great help, thanks!", "thank_customer"), ("Terrible, slow and not helpful", "escalation_ticket")]

# the bank's answers to each status check, last step
TRANSFERS = [(["pending", "completed"], "send_confirmation"), (["failed"], "notify_finance")]

# SKUs out of stock, last step
INVENTORY = [(set(), "proceed_to_checkout"), ({"C-3"}, "notify_customer")]

# the Stripe customer's metadata.plan (None: no plan in its metadata), steps that must run
PLANS = [
    ("premium", {"assign_account_manager", "schedule_kickoff_call", "send_premium_resources"}),
    ("basic", {"standard_onboarding"}),
    (None, {"standard_onboarding"}),
]

# order in stock, last step
STOCK = [(True, "send_confirmation"), (False, "create_restock_task")]
INVENTORY_URL = "https://inventory.example"  # where the order templates ask for stock until pointed elsewhere


def aim_inventory(workflow, url: str) -> None:
    """Point the order templates' stock look-ups at url, as the user does before going live."""
    for step in workflow.steps.all():
        text = json.dumps(step.config)
        if INVENTORY_URL in text:
            step.config = json.loads(text.replace(INVENTORY_URL, url))
            step.save()


def stock(server, skus, missing=()) -> None:
    """The fake inventory system: /api/stock answers for a whole order, /api/inventory/<sku> for one item."""
    server.route("GET", "/api/stock", body={"in_stock": not missing})
    for sku in skus:
        server.route("GET", f"/api/inventory/{sku}", body={"sku": sku, "available": sku not in missing})


# plagiarism similarity, title, the editor's decision (None: no approval asked), last step
CONTENT = [
    (0.05, "Good tips", "approve", "publish"),
    (0.05, "Good tips", "reject", "return_to_author"),
    (0.5, "Good tips", None, "return_to_author"),
    (0.05, "Cheap guaranteed tips!!!", None, "return_to_author"),
]

# card expiry, the charge endpoint's HTTP status, last step
RENEWALS = [("2026-11-30", 200, "thank_customer"), ("2030-01-31", 500, "notify_billing")]


def merged(sample: dict, part: str, **changes) -> dict:
    """The sample input with some fields of one of its parts changed."""
    return {**sample, part: {**sample[part], **changes}}


# Vendor connectors (issue 8): the templates whose steps call a vendor, the step keys that do, and the service.
CONNECTOR_STEPS = {
    "refund-approval": {"process_refund": "stripe"},
    "lead-qualification": {"add_to_nurture": "mailchimp", "create_crm_record": "hubspot"},
    "employee-onboarding": {"create_email_account": "google_workspace"},
    "support-ticket-escalation": {"alert_support_channel": "slack"},
}
# The credentials the tests connect with (each connection's base_url is a FakeServer); never shown on a step run.
CREDENTIALS = {
    "stripe": {"secret_key": "sk_test_51TplRefundSecretKey"},
    "hubspot": {"private_app_token": "pat-na1-tpl-crm-token-0001"},
    "mailchimp": {"api_key": "0123456789abcdef0123456789abcdef-us21"},
    "google_workspace": {"access_token": "ya29.tpl-directory-access-token"},
    "slack": {"bot_token": "xoxb-1-2-tpl-support-bot-token"},
}
# Where a test run's recording points when no connection (so no base URL) is configured.
DEFAULT_BASE = {
    "stripe": "https://api.stripe.com",
    "hubspot": "https://api.hubapi.com",
    "mailchimp": "https://<dc>.api.mailchimp.com",
    "google_workspace": "https://admin.googleapis.com",
    "slack": "https://slack.com",
}
PAYMENT_INTENT = "pi_3MtwBwLkdIwHu7ix28a3tqPa"  # the refund template's sample
LEAD_EMAIL = "grace@navy.example"  # the lead template's sample
AUDIENCE = "NURTURE_AUDIENCE_ID"  # the placeholder the user replaces with a Mailchimp audience ID
LEAD_STATUS = {"hot": "OPEN", "warm": "NEW", "cold": "BAD_TIMING"}  # HubSpot's hs_lead_status by score label
MEMBER = hashlib.md5(LEAD_EMAIL.encode(), usedforsecurity=False).hexdigest()  # Mailchimp's subscriber hash
# What each fake vendor answers, by (method, path): the shapes the vendors document.
ANSWERS = {
    ("POST", "/v1/refunds"): {"id": "re_1", "object": "refund", "status": "succeeded", "currency": "usd"},
    ("POST", "/crm/v3/objects/contacts/batch/upsert"): {"status": "COMPLETE", "results": [{"id": "501", "new": True}]},
    ("PUT", f"/3.0/lists/{AUDIENCE}/members/{MEMBER}"): {"id": MEMBER, "status": "subscribed", "list_id": AUDIENCE},
    ("POST", "/admin/directory/v1/users"): {"id": "1001", "primaryEmail": "ada.lovelace@company.example"},
    ("POST", "/api/chat.postMessage"): {"ok": True, "channel": "C0SUPPORT", "ts": "1700000000.000100"},
}


@dataclass(frozen=True)
class Call:
    """One vendor request in the vendor's terms: method, path, Authorization header, decoded body."""

    method: str
    path: str
    auth: str | None
    body: dict

    def as_shown(self) -> Call:
        """The same request as a step run shows it: the bearer header and any password redacted. Mailchimp's
        Basic auth is added by the HTTP client from the credentials, so no header of the request shows it."""
        auth = None if self.auth.startswith("Basic ") else "[redacted]"
        body = {**self.body, "password": "[redacted]"} if "password" in self.body else self.body
        return Call(self.method, self.path, auth, body)


def received(recorded) -> Call:
    """A request a FakeServer recorded, as a Call (Stripe's form body decoded to its bracketed keys)."""
    headers = {k.lower(): v for k, v in recorded.headers.items()}
    form = "x-www-form-urlencoded" in headers.get("content-type", "")
    body = dict(parse_qsl(recorded.body.decode())) if form else recorded.json()
    return Call(recorded.method, recorded.path, headers.get("authorization"), body)


def shown(request: dict, base_url: str) -> Call:
    """A request as a step run shows it (its `requests` entry or a test run's `would_send`), as a Call."""
    body = {k: str(v) for k, v in request["data"].items()} if request["data"] else request["json"]
    return Call(request["method"], request["url"].removeprefix(base_url), request["headers"].get("Authorization"), body)


def bearer(service: str) -> str:
    return f"Bearer {next(iter(CREDENTIALS[service].values()))}"


def refund_call(amount: int) -> Call:
    body = {"payment_intent": PAYMENT_INTENT, "amount": str(amount * 100), "reason": "requested_by_customer"}
    return Call("POST", "/v1/refunds", bearer("stripe"), {**body, "metadata[order]": "1042"})


def crm_call(label: str) -> Call:
    names = {"firstname": "Grace", "lastname": "Hopper", "company": "Navy Labs"}
    properties = {"email": LEAD_EMAIL, **names, "hs_lead_status": LEAD_STATUS[label]}
    body = {"inputs": [{"id": LEAD_EMAIL, "idProperty": "email", "properties": properties}]}
    return Call("POST", "/crm/v3/objects/contacts/batch/upsert", bearer("hubspot"), body)


def nurture_call() -> Call:
    key = CREDENTIALS["mailchimp"]["api_key"]
    body = {
        "email_address": LEAD_EMAIL,
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Grace", "LNAME": "Hopper"},
    }
    return Call(
        "PUT", f"/3.0/lists/{AUDIENCE}/members/{MEMBER}", f"Basic {b64encode(f'faos:{key}'.encode()).decode()}", body
    )


def account_call(password=ANY) -> Call:
    body = {
        "primaryEmail": "ada.lovelace@company.example",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "password": password,
        "changePasswordAtNextLogin": True,
        "orgUnitPath": "/Engineering",
        "recoveryEmail": "ada@home.example",
    }
    return Call("POST", "/admin/directory/v1/users", bearer("google_workspace"), body)


def alert_call(urgency: str, subject: str) -> Call:
    body = {"channel": "#support", "text": f"[{urgency.upper()}] Ticket 4711 escalated: {subject}"}
    return Call("POST", "/api/chat.postMessage", bearer("slack"), body)


def connect(server, *services) -> None:
    """A connection per service, with the test credentials and the fake vendor server as its base URL."""
    from integrations.models import Connection

    for service in services:
        credentials = {**CREDENTIALS[service], "base_url": server.url}
        Connection.objects.create(service=service, name="default", credentials=credentials)


def assert_sent(server, execution, calls: dict) -> None:
    """The vendor received exactly these calls, in this order, and each step run shows its own, credentials redacted."""
    assert [received(r) for r in server.requests] == list(calls.values())
    secrets = [value for credentials in CREDENTIALS.values() for value in credentials.values()]
    for key, call in calls.items():
        requests = execution.step_runs.get(step_key=key).requests
        assert [shown(r, server.url) for r in requests] == [call.as_shown()]
        assert not any(secret in json.dumps(requests) for secret in secrets)
