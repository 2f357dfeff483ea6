"""The admin dashboard: the guide's four numbers, a table per workflow, runs per day and failing steps."""

import math

from django.contrib import admin
from django.shortcuts import render

from workflows import authz
from workflows.models import Workflow

from ..dashboard import (
    ERROR_TARGET,
    SUCCESS_TARGET,
    cached,
    failing_steps,
    figures_stamp,
    model_usage,
    overall_metrics,
    runs_per_day,
    workflow_metrics,
)

PERIODS = (7, 30, 90)
CHART = {"width": 720, "height": 200, "left": 40, "right": 24, "top": 10, "bottom": 24}


def dashboard_view(request):
    """Render the dashboard; `?workflow=<id>&days=7|30|90` narrow it. Company-wide numbers: the view right."""
    authz.require(request.user, "view", "executions.dashboard")
    days = _choice(request.GET.get("days"), PERIODS, 30)
    workflows = list(Workflow.objects.order_by("name", "id").values_list("id", "name"))
    workflow_id = _choice(request.GET.get("workflow"), [pk for pk, _ in workflows], None)
    stamp, scope = figures_stamp(), {"days": days, "workflow_id": workflow_id}
    overall = cached(overall_metrics, stamp, **scope)
    usage = cached(model_usage, stamp, **scope)
    rows = [_labelled(row, usage.get(row["id"])) for row in cached(workflow_metrics, stamp, **scope)]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "days": days,
        "periods": PERIODS,
        "workflow_id": workflow_id,
        "workflow_choices": workflows,
        "overall": _labelled(overall),
        "cards": metric_cards(overall),
        "rows": rows,
        "chart": _chart(cached(runs_per_day, stamp, **scope)),
        "failing": cached(failing_steps, stamp, **scope),
    }
    return render(request, "admin/executions/dashboard.html", context)


def _choice(raw, allowed, default):
    """The integer in `raw` if it is one of `allowed`, else the default."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return value if value in allowed else default


def _duration(ms) -> str:
    """Milliseconds as a short human duration."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def _percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _labelled(row: dict, usage: dict | None = None) -> dict:
    """Add display strings to a metrics row (and its model usage, when its agents used any)."""
    tokens = (usage["tokens_in"] + usage["tokens_out"]) if usage else 0
    row["usage_label"] = f"{tokens:,} tokens · ≈ ${usage['cost_usd']:.4f}" if tokens else "—"
    row["success_label"] = _percent(row["success_rate"])
    row["error_label"] = _percent(row["error_rate"])
    row["avg_label"] = _duration(row["avg_duration_ms"])
    row["p95_label"] = _duration(row["p95_duration_ms"])
    row["success_bad"] = any(b.startswith("success") for b in row["breaches"])
    row["error_bad"] = any(b.startswith("errors") for b in row["breaches"])
    return row


def _state(value, ok) -> str:
    """'ok', 'breach', or 'none' when there is nothing to judge yet."""
    if value is None:
        return "none"
    return "ok" if ok(value) else "breach"


def metric_cards(overall: dict) -> list[dict]:
    """The four numbers the guide asks to watch, each judged against its target."""
    stuck = overall["stuck"]
    return [
        {
            "title": "Success rate",
            "value": _percent(overall["success_rate"]),
            "detail": f"Target > {SUCCESS_TARGET:g} % · {overall['succeeded']} of {overall['finished']} finished",
            "state": _state(overall["success_rate"], lambda v: v >= SUCCESS_TARGET),
        },
        {
            "title": "Avg duration",
            "value": _duration(overall["avg_duration_ms"]),
            "detail": f"p95 {_duration(overall['p95_duration_ms'])}",
            "state": "none",
        },
        {
            "title": "Error rate",
            "value": _percent(overall["error_rate"]),
            "detail": f"Target < {ERROR_TARGET:g} % · {overall['failed']} failed or timed out",
            "state": _state(overall["error_rate"], lambda v: v <= ERROR_TARGET),
        },
        {
            "title": "Active executions",
            "value": str(overall["active"]),
            "detail": f"{stuck} past their deadline" if stuck else "Monitor for backlogs · none past deadline",
            "state": "breach" if stuck else "ok",
        },
    ]


def _chart(series: list[dict]) -> dict:
    """Geometry for a stacked bar chart drawn as inline SVG (succeeded, failed, other)."""
    width, height, left, right, top, bottom = (CHART[k] for k in ("width", "height", "left", "right", "top", "bottom"))
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([day["total"] for day in series] + [1])
    peak += peak % 2 if peak > 1 else 0  # an even peak keeps the middle gridline on a whole number
    slot = plot_w / len(series)
    every = math.ceil(len(series) / 8)
    bars = []
    for index, day in enumerate(series):  # one bar per day of the period
        x, base, segments = left + index * slot + slot * 0.15, top + plot_h, []
        for kind in ("succeeded", "failed", "other"):
            h = day[kind] / peak * plot_h
            if h:
                base -= h
                segments.append({"kind": kind, "y": f"{base:.2f}", "h": f"{h:.2f}"})
        label = day["day"].strftime("%b %d") if (len(series) - 1 - index) % every == 0 else ""
        bars.append(
            {
                **day,
                "x": f"{x:.2f}",
                "w": f"{max(slot * 0.7, 1):.2f}",
                "segments": segments,
                "label": label,
                "label_x": f"{x + slot * 0.35:.2f}",
            }
        )
    return {
        **CHART,
        "bars": bars,
        "peak": peak,
        "total": sum(day["total"] for day in series),
        "axis_y": top + plot_h,
        "plot_h": plot_h,
        "axis_right": width - right,
        "mid": peak / 2,
        "mid_y": f"{top + plot_h / 2:.2f}",
        "label_y": height - 6,
    }
