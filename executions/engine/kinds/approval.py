"""`approval`: pause until approvers decide; branches on_approved, on_rejected, on_expired."""

from datetime import UTC, datetime, timedelta

from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register

NEVER = timedelta(days=3650)  # no due time: only a decision wakes the step


@register
class ApprovalKind(StepKind):
    """config: {"title": "Refund {{trigger.amount}} USD to {{trigger.customer.email}}?", "details": "…",
    "amount": "{{trigger.amount}}", "approvers": ["maria"], "groups": ["Managers"], "required": 1,
    "allow_requester": false, "due": "2d", "remind_every": "24h", "escalate_to": ["Finance"]}.

    The result carries the decision, who decided and their comments, for later steps.
    """

    name = "approval"
    label = "Approval"
    example = {
        "key": "manager_approval",
        "name": "Manager approval",
        "config": {
            "title": "Refund {{trigger.amount}} USD to {{trigger.customer.email}}?",
            "amount": "{{trigger.amount}}",
            "currency": "USD",
            "groups": ["Approvers"],
            "due": "2d",
            "remind_every": "24h",
        },
        "branches": {"on_approved": "process_refund", "on_rejected": "tell_customer", "on_expired": "tell_customer"},
    }
    config_schema = {
        "type": "object",
        "required": ["title"],
        "anyOf": [{"required": ["approvers"]}, {"required": ["groups"]}],
        "additionalProperties": False,
        "properties": {
            "title": {"type": "string", "minLength": 1, "title": "Title", "description": "What is asked."},
            "details": {"type": "string", "title": "Details", "description": "What the approvers need to know."},
            "amount": {
                "type": ["number", "string"],
                "title": "Amount",
                "description": "The sum at stake, if any, e.g. {{trigger.refund.amount}}.",
            },
            "currency": {"type": "string", "title": "Currency", "description": "Three-letter code, e.g. USD."},
            "approvers": {
                "type": "array",
                "items": {"type": "string"},
                "title": "Approvers",
                "description": "User names of the people who may decide.",
            },
            "groups": {
                "type": "array",
                "items": {"type": "string"},
                "title": "Approver groups",
                "description": "Groups whose members may decide.",
            },
            "required": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "title": "Approvals needed",
                "description": "How many approvals it takes.",
            },
            "allow_requester": {
                "type": "boolean",
                "default": False,
                "title": "Requester may approve",
                "description": "Whether whoever started the run may approve it too.",
            },
            "due": {
                "type": ["string", "number"],
                "format": "duration",
                "title": "Due in",
                "description": "After this the request expires (branch on_expired), e.g. 2d.",
            },
            "remind_every": {
                "type": ["string", "number"],
                "format": "duration",
                "title": "Remind every",
                "description": "Nudge the approvers this often while undecided, e.g. 24h.",
            },
            "escalate_to": {
                "type": "array",
                "items": {"type": "string"},
                "title": "Escalate to",
                "description": "Groups told when the request is overdue.",
            },
        },
    }
    branch_labels = ("on_approved", "on_rejected", "on_expired")

    def run(self, step, ctx):
        resume = ctx.resume or {}
        if not resume.get("approval_id"):
            request = ctx.record_input(ctx.render({k: v for k, v in step.config.items()}))
            approval_id, wake = ctx.approvals.open(request, ctx=ctx)
            return self._park(ctx, approval_id, wake)
        state = ctx.approvals.status(resume["approval_id"])
        if state["status"] in ("approved", "rejected"):
            return Outcome.ok(state, branch=f"on_{state['status']}")
        status, wake = ctx.approvals.remind_or_expire(resume["approval_id"])
        if status == "expired":
            return Outcome.ok(ctx.approvals.status(resume["approval_id"]), branch="on_expired")
        return self._park(ctx, resume["approval_id"], wake)

    def _park(self, ctx, approval_id, wake):
        now = ctx.now or datetime.now(UTC)
        return Outcome.waiting(wake or now + NEVER, {"approval_id": approval_id}, waiting_for="approval")

    def validate(self, step, definition):
        problems = []
        if not step.config.get("title"):
            problems.append(Problem(step.key, "config.title", "say what is asked, e.g. Refund {{trigger.amount}}?"))
        if not step.config.get("approvers") and not step.config.get("groups"):
            problems.append(Problem(step.key, "config.approvers", "name at least one approver or approver group"))
        required = step.config.get("required", 1)
        if not isinstance(required, int) or required < 1:
            problems.append(Problem(step.key, "config.required", "must be a whole number of at least 1"))
        return problems
