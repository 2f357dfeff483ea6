"""Prometheus metrics read from the database at scrape time: one aggregate query per family, no scans.

Web, workers and Beat are separate processes (often separate machines), so nothing here lives in process
memory: gauges come from the rows, webhook deliveries from a shared counter row (ops.Counter), and
step durations and model usage from the steps that finished within the last FAOS_METRICS_WINDOW_SECONDS.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from executions.models import Approval, Execution, StepRun

from .health import SWEEP
from .models import WEBHOOK_DELIVERIES, Counter, Heartbeat

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)  # seconds


def runs():
    """Runs kept in the database by workflow and status: one GROUP BY on the (workflow, status) index."""
    family = GaugeMetricFamily(
        "faos_runs", "Live runs in the database by workflow and status.", labels=["workflow_id", "workflow", "status"]
    )
    waiting = 0
    rows = Execution.objects.live().values_list("workflow_id", "workflow__name", "status").annotate(n=Count("id"))
    for workflow_id, name, status, n in rows.order_by():
        family.add_metric([str(workflow_id), name, status], n)
        waiting += n if status == Execution.Status.WAITING else 0
    yield family
    yield GaugeMetricFamily("faos_runs_waiting", "Live runs parked on a timer, event, approval or task.", waiting)


def step_queue(now):
    """Pending steps (status index): how many may run now, how long the oldest has waited, timers due and set."""
    runnable = Q(wake_at__isnull=True) | Q(wake_at__lte=now)
    totals = StepRun.objects.filter(status=StepRun.Status.PENDING).aggregate(
        runnable=Count("id", filter=runnable),
        oldest=Min(Coalesce("wake_at", "created_at"), filter=runnable),
        timers_due=Count("id", filter=Q(wake_at__lte=now)),
        timers_set=Count("id", filter=Q(wake_at__gt=now)),
    )
    lag = (now - totals["oldest"]).total_seconds() if totals["oldest"] else 0.0
    yield GaugeMetricFamily("faos_steps_runnable", "Steps a worker may claim now.", totals["runnable"])
    yield GaugeMetricFamily("faos_queue_lag_seconds", "How long the oldest runnable step has waited.", max(lag, 0.0))
    yield GaugeMetricFamily(
        "faos_timers_due", "Timers (waits, retries, rate limits) due and not claimed yet.", totals["timers_due"]
    )
    yield GaugeMetricFamily("faos_timers_set", "Timers set for later.", totals["timers_set"])


def recent_steps(now):
    """Steps finished in the window (finished_at index): durations by kind, model usage by workflow."""
    window = settings.FAOS_METRICS_WINDOW_SECONDS
    buckets = {f"le_{i}": Count("id", filter=Q(duration_ms__lte=b * 1000)) for i, b in enumerate(BUCKETS)}
    rows = (
        StepRun.objects.filter(finished_at__gte=now - timedelta(seconds=window), duration_ms__isnull=False)
        .values("step_kind", "execution__workflow_id", "execution__workflow__name")
        .annotate(
            n=Count("id"),
            ms=Sum("duration_ms"),
            t_in=Sum("tokens_in"),
            t_out=Sum("tokens_out"),
            cost=Sum("cost_usd"),
            **buckets,
        )
        .order_by()
    )
    kinds, usage = defaultdict(lambda: defaultdict(float)), defaultdict(lambda: defaultdict(float))
    for row in rows:
        kind, workflow = (
            kinds[row["step_kind"]],
            usage[(str(row["execution__workflow_id"]), row["execution__workflow__name"])],
        )
        for key in ("n", "ms", *buckets):
            kind[key] += row[key] or 0
        for key in ("t_in", "t_out", "cost"):
            workflow[key] += float(row[key] or 0)
    yield _durations(kinds)
    yield from _usage(usage)
    yield GaugeMetricFamily("faos_metrics_window_seconds", "The window the faos_recent_* families cover.", window)


def _durations(kinds) -> GaugeHistogramMetricFamily:
    family = GaugeHistogramMetricFamily(
        "faos_recent_step_duration_seconds", "Durations of steps finished in the window, by kind.", labels=["kind"]
    )
    for kind, v in sorted(kinds.items()):
        points = [(str(b), v[f"le_{i}"]) for i, b in enumerate(BUCKETS)] + [("+Inf", v["n"])]
        family.add_metric([kind], points, gsum_value=v["ms"] / 1000)
    return family


def _usage(usage):
    tokens = GaugeMetricFamily(
        "faos_recent_model_tokens",
        "Model tokens used by steps finished in the window.",
        labels=["workflow_id", "workflow", "direction"],
    )
    cost = GaugeMetricFamily(
        "faos_recent_model_cost_usd",
        "Estimated model cost of steps finished in the window.",
        labels=["workflow_id", "workflow"],
    )
    for (workflow_id, name), v in sorted(usage.items()):
        if v["t_in"] or v["t_out"] or v["cost"]:
            tokens.add_metric([workflow_id, name, "in"], v["t_in"])
            tokens.add_metric([workflow_id, name, "out"], v["t_out"])
            cost.add_metric([workflow_id, name], v["cost"])
    yield tokens
    yield cost


def approvals(now):
    """Pending approvals (status index) and those past their due time."""
    totals = Approval.objects.filter(status=Approval.Status.PENDING).aggregate(
        pending=Count("id"), overdue=Count("id", filter=Q(due_at__lt=now))
    )
    yield GaugeMetricFamily("faos_approvals_pending", "Approvals waiting for a decision.", totals["pending"])
    yield GaugeMetricFamily("faos_approvals_overdue", "Pending approvals past their due time.", totals["overdue"])


def webhook_deliveries():
    """Every webhook delivery since the counter table was made, by the answer FAOS gave (202, 401, 429…)."""
    family = CounterMetricFamily("faos_webhook_deliveries", "Webhook deliveries by answer code.", labels=["code"])
    for code, value in Counter.objects.filter(name=WEBHOOK_DELIVERIES).values_list("label", "value").order_by("label"):
        family.add_metric([code], value)
    yield family


def sweep_age(now):
    at = Heartbeat.objects.filter(name=SWEEP).values_list("at", flat=True).first()
    age = (now - at).total_seconds() if at else float("nan")
    yield GaugeMetricFamily("faos_sweep_age_seconds", "Seconds since the Beat-driven sweep last ran (NaN: never).", age)


class FaosCollector(Collector):
    """Everything /metrics shows, read fresh at each scrape."""

    def collect(self):
        now = timezone.now()
        yield from runs()
        yield from step_queue(now)
        yield from recent_steps(now)
        yield from approvals(now)
        yield from webhook_deliveries()
        yield from sweep_age(now)


registry = CollectorRegistry(auto_describe=False)  # no describe(): registering runs no query
registry.register(FaosCollector())
