"""The template library: definition files under workflows/library/, loaded into the gallery."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.contrib.auth.models import Group
from django.db import transaction

from .models import Agent, Workflow, WorkflowTemplate
from .safe_yaml import shipped_yaml
from .services import workflow_import

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
META_KEYS = ("slug", "category", "use_when", "claim", "needs", "trigger_summary", "agents")


def template_files() -> list[Path]:
    return sorted(LIBRARY_DIR.glob("*.yaml"))


@transaction.atomic
def templates_load() -> dict[str, int]:
    """Create or update every template (and the offline agents they need); workflows made from them stay as they are."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for path in template_files():
        data = shipped_yaml(path.read_text())
        _ensure_agents(data.get("agents") or [])
        for group in (data.get("needs") or {}).get("groups", []):
            Group.objects.get_or_create(name=group)  # approvals and tasks are addressed to these
        counts[_upsert(data)] += 1
    return counts


def _upsert(data: dict) -> str:
    definition = {k: v for k, v in data.items() if k not in META_KEYS}
    checksum = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    fields = {
        "name": data["name"],
        "category": data["category"],
        "description": data.get("description", ""),
        "use_when": data.get("use_when", ""),
        "claim": data.get("claim", ""),
        "needs": data.get("needs") or {},
        "trigger_summary": data.get("trigger_summary", ""),
        "definition": definition,
        "checksum": checksum,
    }
    template = WorkflowTemplate.objects.filter(slug=data["slug"]).first()
    if template is None:
        WorkflowTemplate.objects.create(slug=data["slug"], **fields)
        return "created"
    if template.checksum == checksum and template.needs == fields["needs"]:
        return "unchanged"
    WorkflowTemplate.objects.filter(pk=template.pk).update(**fields)
    return "updated"


def _ensure_agents(agents: list[dict]) -> None:
    """Templates name their agents; missing ones are created on the offline provider (works with no key)."""
    for spec in agents:
        agent, created = Agent.objects.get_or_create(
            name=spec["name"],
            defaults={
                "role": spec.get("role", ""),
                "instructions": spec.get("instructions", ""),
                "provider": "offline",
                "allowed_actions": spec.get("allowed_actions", []),
            },
        )
        missing = [a for a in spec.get("allowed_actions", []) if a not in agent.allowed_actions]
        if not created and missing:
            agent.allowed_actions = [*agent.allowed_actions, *missing]
            agent.save(update_fields=["allowed_actions"])


def template_use(*, template: WorkflowTemplate, owner=None) -> Workflow:
    """A new draft workflow from a template, with its sample input ready for a test run."""
    workflow = workflow_import(definition=template.definition, owner=owner)
    workflow.template_slug = template.slug
    workflow.save(update_fields=["template_slug"])
    return workflow
