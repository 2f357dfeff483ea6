"""Validation problems as admin messages whose "step 'x', field" part links to that step's editor and field."""

import re
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

TRIGGER_FIELD = re.compile(r"^triggers\[(\d+)\]\.(.+)$")


def problem_anchor(problem) -> str:
    """The change page's fragment that opens the step (or trigger) a problem names and focuses its field."""
    if problem.step:
        return "#" + urlencode({"step": problem.step, "field": problem.field})
    trigger = TRIGGER_FIELD.match(problem.field)
    if trigger:
        return "#" + urlencode({"trigger": trigger[1], "field": trigger[2]})
    return "#steps-group" if problem.field == "steps" else ""


def problem_message(*, workflow, problem) -> SafeString:
    """The problem's own words, its "where" part a link to the field on the workflow's page."""
    where = f"step '{problem.step}'" if problem.step else "workflow"
    anchor = problem_anchor(problem)
    if not anchor:
        return format_html("{}, {}: {}", where, problem.field, problem.message)
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk]) + anchor
    return format_html(
        '<a href="{}" class="faos-problem-link">{}, {}</a>: {}', url, where, problem.field, problem.message
    )
