"""`{% flow_diagram workflow %}` and `{% flow_diagram_definition definition %}`: the flow drawn as inline SVG."""

import hashlib
import json
from pathlib import Path

from django import template
from django.core.cache import cache
from django.utils.safestring import mark_safe

from executions.engine import definition as parsing
from executions.engine.definition import step_dict
from workflows import diagram, diagram_layout
from workflows.diagram import flow_svg
from workflows.models import Step, Trigger

register = template.Library()
CACHE_SECONDS = 7 * 24 * 3600
# The drawing code's own hash: a deploy that draws differently does not serve the flows the old code drew.
DRAWN_BY = (diagram, diagram_layout, parsing)
DRAWING = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in DRAWN_BY)).hexdigest()[:12]


@register.simple_tag(takes_context=True)
def flow_diagram(context, workflow) -> str:
    """The draft's flow, from the steps and triggers the page's inlines already loaded (else one query each)."""
    return _scrollable(cached_flow_svg(draft_definition(context, workflow)))


@register.simple_tag
def flow_diagram_definition(definition) -> str:
    """A frozen version's flow, from its stored definition."""
    return _scrollable(cached_flow_svg(definition or {}))


def cached_flow_svg(definition) -> str:
    """flow_svg, kept in the cache under the definition's hash: laying out 100 steps takes ~25 ms, and a workflow's
    page draws the same flow until one of its steps or triggers changes."""
    text = json.dumps(definition, sort_keys=True, default=str)
    key = f"faos:flow-svg:{DRAWING}:{hashlib.sha256(text.encode()).hexdigest()}"
    svg = cache.get(key)
    if svg is None:
        svg = flow_svg(definition)
        cache.set(key, svg, CACHE_SECONDS)
    return svg


def draft_definition(context, workflow) -> dict:
    """The draft in the export format, only as far as the diagram needs it."""
    steps = _loaded(context, Step)
    if steps is None:
        steps = workflow.steps.order_by("position", "id")
    triggers = _loaded(context, Trigger)
    if triggers is None:
        triggers = workflow.triggers.order_by("id")
    return {
        "name": workflow.name,
        "steps": [step_dict(step) for step in steps],
        "triggers": [{"kind": t.kind, "name": t.name} for t in triggers],
    }


def _loaded(context, model) -> list | None:
    """The rows of the page's inline for `model`: its formset has evaluated the queryset already."""
    for inline in context.get("inline_admin_formsets") or ():
        if inline.formset.model is model:
            return list(inline.formset.get_queryset())
    return None


def _scrollable(svg: str) -> str:
    # flow_svg escapes every piece of user text it draws
    return mark_safe(f'<div class="faos-flow" style="overflow-x: auto; padding: 8px 0">{svg}</div>')
