"""Definitions as readable files (YAML or JSON): export, parse, import. Templates use the same format."""

from __future__ import annotations

import json

import yaml
from django.core.exceptions import ValidationError

from .models import Workflow
from .safe_yaml import DefinitionTooLarge, safe_yaml
from .services import workflow_definition

__all__ = ["DefinitionTooLarge", "dump", "parse", "workflow_export"]


def workflow_export(*, workflow: Workflow) -> dict:
    """The draft as the import/export format, with its sample input."""
    return {**workflow_definition(workflow=workflow), "sample_input": workflow.sample_input}


def dump(definition: dict, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)


def parse(text: str | bytes) -> dict:
    """YAML or JSON text (JSON is YAML) to a definition dict; a clear error names what is wrong."""
    data = safe_yaml(text)
    if not isinstance(data, dict):
        raise ValidationError({"definition": "Expected a mapping with name, steps and triggers."})
    if not isinstance(data.get("steps", []), list):
        raise ValidationError({"steps": "Expected a list of steps."})
    return data
