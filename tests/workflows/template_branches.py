"""The branches of the template library: the inputs that pick each path and the path they should take.

Shared by the in-process tests (tests/workflows/test_library.py) and the real-worker tests
(tests/e2e/test_templates_live.py), so both prove the same branches.
"""

ARTICLE = {
    "title": "Reset your password",
    "body": "Use Forgot password. The site is down rarely.",
    "url": "https://help.example/reset",
}

# ticket subject, a knowledge-base article exists, urgency, the step that answers
TICKETS = [
    ("How do I reset my password?", True, "low", "send_auto_response"),
    ("Site is down, total outage!", True, "critical", "escalate"),
    ("Weird bug in the export", False, "medium", "escalate"),
]

# lead fields over the sample, score label, last step
LEADS = [
    ({"company_size": 800, "industry": "saas", "budget": 25000}, "hot", "create_crm_record"),
    ({"company_size": 800, "industry": "retail", "budget": 0}, "warm", "create_crm_record"),
    ({"company_size": 3, "industry": "retail", "budget": 0, "message": "just looking"}, "cold", "create_crm_record"),
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

# customer plan, steps that must run
PLANS = [
    ("premium", {"assign_account_manager", "schedule_kickoff_call", "send_premium_resources"}),
    ("basic", {"standard_onboarding"}),
]

# order in stock, last step
STOCK = [(True, "send_confirmation"), (False, "create_restock_task")]

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
