"""The flow diagram: every template's steps and branches drawn, containers and cycles, escaping, and the admin pages."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from executions.engine.definition import Definition
from tests.factories import TriggerFactory, workflow_with_steps
from workflows import io
from workflows.diagram import NODE, TRIGGER, build_graph, clean, flow_svg, text_width
from workflows.diagram_layout import layout
from workflows.library import template_files
from workflows.services import workflow_snapshot
from workflows.templatetags import faos_diagram

TEMPLATES = {path.stem: io.parse(path.read_text()) for path in template_files()}
PATH = re.compile(r'<path class="([^"]*)" data-from="([^"]*)" data-to="([^"]*)" data-label="([^"]*)"')


def edges(svg: str) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(from, to) → (css classes, labels) for every edge drawn."""
    found = {}
    for classes, source, target, label in PATH.findall(svg):
        found[(unescape(source), unescape(target))] = (classes, set(unescape(label).split(" / ")) - {""})
    return found


def label_texts(svg: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<text class="fd-label"[^>]*>([^<]*)</text>', svg)]


@pytest.mark.parametrize("slug", sorted(TEMPLATES))
def test_every_step_of_every_template_is_a_node(slug):
    svg = flow_svg(TEMPLATES[slug])
    assert svg.startswith("<svg") and "could not be drawn" not in svg
    for step in TEMPLATES[slug]["steps"]:
        assert f'data-key="{step["key"]}"' in svg, step["key"]
    assert ("trigger", TEMPLATES[slug]["steps"][0]["key"]) in edges(svg)


@pytest.mark.parametrize("slug", sorted(TEMPLATES))
def test_every_branch_is_an_edge_with_its_label(slug):
    svg = flow_svg(TEMPLATES[slug])
    drawn, texts = edges(svg), label_texts(svg)
    for step in TEMPLATES[slug]["steps"]:
        for label, target in (step.get("branches") or {}).items():
            shown = label.removeprefix("on_") if step.get("kind") == "approval" else label
            assert shown in drawn[(step["key"], target)][1], (step["key"], label)
            assert any(shown in text.split(" / ") for text in texts), shown


def placed(definition: dict):
    nodes, graph_edges = build_graph(Definition.from_dict(clean(definition)), [])
    return layout({k: NODE for k in nodes}, [(e.source, e.target) for e in graph_edges], [0] * len(graph_edges), [])


def crosses(points, box) -> bool:
    """Whether an orthogonal polyline runs through the inside of a box (touching its border is fine)."""
    top, bottom = box.y - box.h / 2 + 0.5, box.y + box.h / 2 - 0.5
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        assert x1 == x2 or y1 == y2, "edges are orthogonal"
        if top < y1 < bottom and y1 == y2 and min(x1, x2) < box.right - 0.5 and max(x1, x2) > box.x + 0.5:
            return True
        if box.x + 0.5 < x1 < box.right - 0.5 and x1 == x2 and min(y1, y2) < bottom and max(y1, y2) > top:
            return True
    return False


def assert_apart(boxes):
    boxes = [b for b in boxes.values() if not b.dummy]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a.right <= b.x or b.right <= a.x or a.y + a.h / 2 <= b.y - b.h / 2 or b.y + b.h / 2 <= a.y - a.h / 2
            assert apart, (a.id, b.id)


@pytest.mark.parametrize("slug", sorted(TEMPLATES))
def test_no_two_nodes_overlap_and_no_edge_runs_through_a_node(slug):
    plan = placed(TEMPLATES[slug])
    assert_apart(plan.boxes)
    nodes = [b for b in plan.boxes.values() if not b.dummy]
    assert not any(crosses(route.points, box) for route in plan.routes for box in nodes)


KEYS = [f"s{i}" for i in range(12)]
TARGETS = st.sampled_from([*KEYS, "end", "ghost"])
STEP = st.fixed_dictionaries(
    {
        "key": st.sampled_from(KEYS),
        "kind": st.sampled_from(["action", "condition", "switch", "parallel", "loop", "approval", "wait_for_event"]),
        "next": st.none() | TARGETS,
        "branches": st.dictionaries(st.sampled_from(["true", "false", "on_event", "default", "x"]), TARGETS),
        "config": st.fixed_dictionaries(
            {"branches": st.lists(st.lists(TARGETS, max_size=3), max_size=3), "steps": st.lists(TARGETS, max_size=3)}
        ),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=12))
def test_any_wiring_draws_every_step_without_overlap(steps):
    definition = {"steps": steps}
    svg = flow_svg(definition)
    assert "could not be drawn" not in svg
    assert all(f'data-key="{s["key"]}"' in svg for s in steps)
    plan = placed(definition)
    assert_apart(plan.boxes)
    nodes = [b for b in plan.boxes.values() if not b.dummy]
    assert not any(crosses(route.points, box) for route in plan.routes for box in nodes)


def test_unwired_branches_fall_through_with_their_labels():
    svg = flow_svg(TEMPLATES["lead_qualification"])
    drawn = edges(svg)
    assert drawn[("verify_contact", "score_lead")][1] == {"true"}
    assert drawn[("route_lead", "notify_sales_rep")][1] == {"hot", "default"}  # no default: the next step
    assert 'class="fd-node fd-fail" data-key="reject"' in svg
    assert ("reject", "create_crm_record") not in drawn and not any(s == "reject" for s, _ in drawn)


def test_a_parallel_step_draws_its_lanes_side_by_side_and_their_join():
    svg = flow_svg(TEMPLATES["new_customer_onboarding"])
    drawn = edges(svg)
    lanes = ["assign_account_manager", "schedule_kickoff_call", "send_premium_resources"]
    for first in lanes:
        assert ("premium_onboarding", first) in drawn
        assert (first, "premium_onboarding.join") in drawn
    assert 'data-join="premium_onboarding"' in svg and ">join all<" in svg
    assert not any(source == "premium_onboarding.join" for source, _ in drawn)  # next: end


def test_lanes_of_several_steps_share_columns_and_join_after_the_longest():
    definition = Definition.from_dict(
        {
            "steps": [
                {"key": "fan", "kind": "parallel", "config": {"branches": [["a1", "a2"], ["b1"]], "join": "any"}},
                {"key": "a1"},
                {"key": "a2"},
                {"key": "b1"},
                {"key": "after"},
            ]
        }
    )
    nodes, graph_edges = build_graph(definition, [])
    placed = layout({k: NODE for k in nodes}, [(e.source, e.target) for e in graph_edges], [0] * len(graph_edges), [])
    box = placed.boxes
    assert box["a1"].x == box["b1"].x and box["a1"].y != box["b1"].y  # the lanes side by side
    assert box["\0join:fan"].x > box["a2"].x > box["a1"].x
    assert box["after"].x > box["\0join:fan"].x
    assert nodes["\0join:fan"].name == "join any"


def test_a_loop_draws_its_body_and_the_way_back():
    svg = flow_svg(TEMPLATES["overdue_invoice_batch"])
    drawn = edges(svg)
    assert drawn[("each_invoice", "send_reminder")][1] == {"each"}
    assert ("send_reminder", "log_action") in drawn
    classes, labels = drawn[("log_action", "each_invoice")]
    assert "fd-back" in classes and labels == {"next"}
    assert drawn[("each_invoice", "summary_report")][1] == {"done"}


def test_a_polling_cycle_is_a_back_edge():
    svg = flow_svg(TEMPLATES["bank_transfer_wait_retry"])
    drawn = edges(svg)
    assert "fd-back" in drawn[("wait_more", "check_status")][0]
    assert "fd-back" not in drawn[("check_status", "count_check")][0]
    assert drawn[("route_status", "notify_finance")][1] == {"failed", "default"}


def test_an_error_route_is_drawn_as_such():
    classes, labels = edges(flow_svg(TEMPLATES["subscription_renewal"]))[("attempt_charge", "notify_billing")]
    assert "fd-err" in classes and labels == {"on error"}


def test_user_text_is_escaped():
    svg = flow_svg(
        {
            "name": "x",
            "steps": [
                {"key": "a", "name": "<script>alert(1)</script>", "config": {}},
                {"key": "b", "name": 'Say "hi" & <b>bye</b>', "kind": "condition", "branches": {"<i>": "c'\"><x"}},
            ],
            "triggers": [{"kind": "webhook", "name": "<img src=x onerror=alert(1)>"}],
        }
    )
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg and "<i>" not in svg and "<x" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "&lt;img src=x" in svg


def test_a_broken_draft_draws_what_it_can():
    svg = flow_svg(
        {
            "steps": [
                {"key": "a", "kind": "teleport", "next": "nowhere"},
                {"key": "b", "kind": "condition", "config": ["not", "a", "dict"], "branches": "oops"},
                {"key": "c", "kind": "parallel", "config": {"branches": "a"}, "retry": [1]},
                {"key": "d", "kind": "loop", "config": {"steps": 5}},
                "not a step",
                {"key": "e", "kind": "switch", "branches": {"x": None, "y": 3}},
            ]
        }
    )
    assert svg.startswith("<svg") and "could not be drawn" not in svg
    assert all(f'data-key="{key}"' in svg for key in "abcde")
    assert 'data-missing="nowhere"' in svg and ("a", "nowhere") in edges(svg)
    assert ">TELEPORT<" in svg


@pytest.mark.parametrize("value", [None, "", [], "steps", {"steps": "x"}, {"steps": [None, 3]}])
def test_nonsense_never_raises(value):
    assert flow_svg(value).startswith("<svg")


def test_a_step_that_leads_to_itself_and_a_long_name():
    name = "A Remarkably Long Step Name That Goes On And On Forever"
    svg = flow_svg({"steps": [{"key": "a", "name": name, "kind": "condition", "branches": {"true": "a"}}]})
    assert "fd-back" in edges(svg)[("a", "a")][0]
    assert f"<title>{name} (a) · condition</title>" in svg and "…" in svg
    assert all(text_width(line, 12) <= NODE[0] for line in re.findall(r'class="fd-name"[^>]*>([^<]*)<', svg))


def test_a_parsed_definition_is_accepted_too():
    definition = Definition.from_dict(TEMPLATES["refund_approval"])
    svg = flow_svg(definition)
    assert edges(svg)[("manager_approval", "tell_declined")][1] == {"rejected", "expired"}
    assert TRIGGER not in svg and "\0" not in svg


# the admin pages


@pytest.fixture
def client_in(client, admin_user):
    client.force_login(admin_user)
    return client


STEPS = [
    {"key": "check", "name": "Check It", "kind": "condition", "config": {"expression": "true"}, "branches": {}},
    {"key": "greet", "name": "Greet", "config": {"action": "log", "inputs": {"message": "hi"}}},
    {"key": "done", "name": "Done", "kind": "complete", "config": {}},
]


@pytest.mark.django_db
def test_the_workflow_page_shows_the_draft_flow_after_every_save(client_in):
    workflow = workflow_with_steps(STEPS)
    TriggerFactory(workflow=workflow, kind="manual", name="By hand")
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    page = client_in.get(url).content.decode()
    assert 'class="faos-flow"' in page and "<svg" in page and ">Flow</h2>" in page
    assert all(f'data-key="{s["key"]}"' in page for s in STEPS) and "By hand" in page
    workflow.steps.filter(key="greet").update(name="Greet Warmly")
    assert "Greet Warmly" in client_in.get(url).content.decode()


@pytest.mark.django_db
def test_the_version_page_shows_the_frozen_flow(client_in):
    workflow = workflow_with_steps(STEPS)
    version = workflow_snapshot(workflow=workflow)
    workflow.steps.filter(key="greet").update(name="Renamed Later")
    page = client_in.get(reverse("admin:workflows_workflowversion_change", args=[version.pk])).content.decode()
    assert "Flow of v1" in page and 'data-key="greet"' in page
    assert "Renamed Later" not in page and page.index("faos-flow") < page.index("field-definition_view")


def count_queries(client, url) -> int:
    client.get(url)  # warm per-process caches so only the page's own queries count
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.django_db
def test_the_diagram_adds_no_query_to_the_workflow_page(client_in, monkeypatch):
    workflow = workflow_with_steps(STEPS * 1 + [{"key": f"s{i}", "name": f"S{i}"} for i in range(8)])
    TriggerFactory(workflow=workflow)
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    with_diagram = count_queries(client_in, url)
    monkeypatch.setattr(faos_diagram, "draft_definition", lambda context, workflow: {})
    assert count_queries(client_in, url) == with_diagram


@pytest.mark.django_db
def test_a_flow_is_laid_out_once_until_a_step_or_trigger_changes(client_in, monkeypatch):
    drawn = []
    monkeypatch.setattr(faos_diagram, "flow_svg", lambda definition: drawn.append(definition) or flow_svg(definition))
    workflow = workflow_with_steps(STEPS)
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    first, again = client_in.get(url).content.decode(), client_in.get(url).content.decode()
    flow = 'class="faos-flow-svg"'
    assert len(drawn) == 1 and first.count(flow) == again.count(flow) == 1  # the second page read the cache
    workflow.steps.filter(key="greet").update(name="Greet Warmly")
    TriggerFactory(workflow=workflow, kind="manual", name="By hand")
    assert "Greet Warmly" in client_in.get(url).content.decode() and len(drawn) == 2
