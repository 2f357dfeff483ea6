"""Dashboard numbers: success and error rates, durations, backlog, runs per day and failing steps.

Every number comes from an aggregate query; nothing loops over executions in Python. The rates
follow the guide's targets: success rate above 95 %, error rate below 5 %.
"""

import datetime
import math
from fractions import Fraction

from django.db import connection
from django.db.models import Aggregate, Avg, Count, F, FloatField, Max, Q, Sum, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from workflows.models import Workflow

from .models import Execution, StepRun

SUCCESS_TARGET = 95.0  # % of finished runs that succeed
ERROR_TARGET = 5.0  # % of finished runs that fail or time out
PERCENTILE = 95
ERRORED = (Execution.Status.FAILED, Execution.Status.TIMED_OUT)


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont: the continuous (linearly interpolated) percentile."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percent: int, **extra):
        super().__init__(expression, fraction=repr(int(percent) / 100), **extra)


def since_for(days: int) -> datetime.datetime:
    """Start of the local day `days - 1` days ago, so `days` calendar days (today included) are covered."""
    first = timezone.localdate() - datetime.timedelta(days=days - 1)
    return timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))


def _scopes(prefix: str, *, days: int, include_test: bool, workflow_id=None) -> tuple[Q, Q]:
    """(window, live): runs created in the period, and all runs regardless of period."""
    live = Q() if include_test else Q(**{f"{prefix}is_test": False})
    if workflow_id is not None:
        live &= Q(**{f"{prefix}workflow_id": workflow_id})
    return live & Q(**{f"{prefix}created_at__gte": since_for(days)}), live


def _aggregates(prefix: str, window: Q, live: Q) -> dict:
    """The aggregate expressions shared by the per-workflow and the overall query."""
    target = f"{prefix}id"
    duration = f"{prefix}duration_ms"
    status = f"{prefix}status__in"
    unfinished = live & Q(**{status: Execution.UNFINISHED})
    aggregates = {
        "runs": Count(target, filter=window),
        "succeeded": Count(target, filter=window & Q(**{f"{prefix}status": Execution.Status.SUCCEEDED})),
        "failed": Count(target, filter=window & Q(**{status: ERRORED})),
        "finished": Count(target, filter=window & Q(**{status: Execution.FINISHED})),
        "active": Count(target, filter=unfinished),
        "stuck": Count(target, filter=unfinished & Q(**{f"{prefix}deadline_at__lt": timezone.now()})),
        "avg_duration_ms": Avg(duration, filter=window),
    }
    if connection.vendor == "postgresql":
        aggregates["p95_duration_ms"] = Percentile(duration, PERCENTILE, filter=window)
    return aggregates


def _interpolate(values: dict[int, int], n: int) -> float:
    """percentile_cont on sorted values known at the 0-based offsets around the percentile's position."""
    position = Fraction(PERCENTILE * (n - 1), 100)
    low, high = math.floor(position), math.ceil(position)
    return float(values[low] + (values[high] - values[low]) * (position - low))


def _p95_fallback(window: Q, by_workflow: bool) -> dict:
    """p95 for databases without percentile_cont: one window query keeps the (at most) two rows around it."""
    partition = [F("workflow_id")] if by_workflow else None
    rows = (
        Execution.objects.filter(window, duration_ms__isnull=False)
        .order_by()
        .annotate(
            rank=Window(RowNumber(), partition_by=partition, order_by=[F("duration_ms").asc(), F("id").asc()]),
            size=Window(Count("id"), partition_by=partition),
        )
        .annotate(gap=100 * (F("rank") - 1) - PERCENTILE * (F("size") - 1))
        .filter(gap__gt=-100, gap__lt=100)
        .values_list("workflow_id", "rank", "size", "duration_ms")
    )
    known: dict = {}
    for workflow_id, rank, size, duration in rows:  # at most two rows per workflow
        key = workflow_id if by_workflow else None
        known.setdefault(key, (size, {}))[1][rank - 1] = duration
    return {key: _interpolate(values, size) for key, (size, values) in known.items()}


def _rate(part: int, whole: int) -> float | None:
    return None if not whole else 100.0 * part / whole


def _finish(row: dict) -> dict:
    """Add rates and target breaches to a row of counts."""
    row["success_rate"] = _rate(row["succeeded"], row["finished"])
    row["error_rate"] = _rate(row["failed"], row["finished"])
    row["breaches"] = []
    if row["success_rate"] is not None and row["success_rate"] < SUCCESS_TARGET:
        row["breaches"].append(f"success < {SUCCESS_TARGET:g}%")
    if row["error_rate"] is not None and row["error_rate"] > ERROR_TARGET:
        row["breaches"].append(f"errors > {ERROR_TARGET:g}%")
    return row


def workflow_metrics(*, days: int = 30, include_test: bool = False, workflow_id=None) -> list[dict]:
    """Per workflow (archived ones only if they have runs): counts, rates, durations, backlog, breaches."""
    window, live = _scopes("executions__", days=days, include_test=include_test, workflow_id=workflow_id)
    aggregates = _aggregates("executions__", window, live)
    workflows = Workflow.objects.all() if workflow_id is None else Workflow.objects.filter(pk=workflow_id)
    rows = list(
        workflows.annotate(**aggregates)
        .filter(~Q(status=Workflow.Status.ARCHIVED) | Q(runs__gt=0) | Q(active__gt=0))
        .order_by("name", "id")
        .values("id", "name", *aggregates)
    )
    if connection.vendor != "postgresql":
        p95 = _p95_fallback(_scopes("", days=days, include_test=include_test, workflow_id=workflow_id)[0], True)
        for row in rows:  # rows are workflows, not executions
            row["p95_duration_ms"] = p95.get(row["id"])
    return [_finish(row) for row in rows]


def overall_metrics(*, days: int = 30, include_test: bool = False, workflow_id=None) -> dict:
    """The same numbers as workflow_metrics over every run (or one workflow's)."""
    window, live = _scopes("", days=days, include_test=include_test, workflow_id=workflow_id)
    row = Execution.objects.aggregate(**_aggregates("", window, live))
    if connection.vendor != "postgresql":
        row["p95_duration_ms"] = _p95_fallback(window, False).get(None)
    return _finish(row)


def runs_per_day(*, days: int = 30, workflow_id=None, include_test: bool = False) -> list[dict]:
    """One row per day of the period, oldest first, zeros filled: day, succeeded, failed, other, total."""
    window, _ = _scopes("", days=days, include_test=include_test, workflow_id=workflow_id)
    counted = (
        Execution.objects.filter(window)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(
            succeeded=Count("id", filter=Q(status=Execution.Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status__in=ERRORED)),
            total=Count("id"),
        )
    )
    by_day = {row["day"]: row for row in counted}
    first = since_for(days).date()
    series = []
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        row = by_day.get(day, {"succeeded": 0, "failed": 0, "total": 0})
        other = row["total"] - row["succeeded"] - row["failed"]
        series.append(
            {"day": day, "succeeded": row["succeeded"], "failed": row["failed"], "other": other, "total": row["total"]}
        )
    return series


def failing_steps(*, days: int = 30, limit: int = 10, workflow_id=None, include_test: bool = False) -> list[dict]:
    """The steps that failed most in the period, with the latest error of each."""
    window, _ = _scopes("execution__", days=days, include_test=include_test, workflow_id=workflow_id)
    failures = StepRun.objects.filter(window, status=StepRun.Status.FAILED)
    rows = list(
        failures.order_by()
        .values("step_key", "execution__workflow_id", "execution__workflow__name")
        .annotate(failures=Count("id"), last_id=Max("id"))
        .order_by("-failures", "execution__workflow__name", "step_key")[:limit]
    )
    # The latest error of each listed step in one more query (a correlated subquery per row was far slower).
    latest = StepRun.objects.in_bulk([row["last_id"] for row in rows])
    gone = StepRun(step_name="", error="")  # pruned by retention between the two queries
    for row in rows:
        last = latest.get(row["last_id"], gone)
        row["step_name"], row["last_error"] = last.step_name, last.error
    return [
        {
            "step_key": row["step_key"],
            "step_name": row["step_name"],
            "workflow_id": row["execution__workflow_id"],
            "workflow": row["execution__workflow__name"],
            "failures": row["failures"],
            "last_error": row["last_error"],
        }
        for row in rows
    ]


def model_usage(*, days: int = 30, workflow_id=None, include_test: bool = False) -> dict[int, dict]:
    """Model tokens and estimated cost per workflow over the period, in one grouped query."""
    window, _ = _scopes("execution__", days=days, include_test=include_test, workflow_id=workflow_id)
    rows = (
        StepRun.objects.filter(window, step_kind="agent")
        .order_by()
        .values("execution__workflow_id")
        .annotate(tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost_usd=Sum("cost_usd"))
    )
    return {row.pop("execution__workflow_id"): row for row in rows}


CACHE_SECONDS = 60


def figures_stamp() -> tuple:
    """What changes when a run starts or finishes: the newest run's id and the number in flight (two index reads)."""
    newest = Execution.objects.order_by("-id").values_list("id", flat=True).first()
    return newest, Execution.objects.unfinished().count()


def cached(function, stamp: tuple, **kwargs):
    """function(**kwargs) from the shared cache while `stamp` holds (at most CACHE_SECONDS old).

    The figures aggregate every run of the period (hundreds of ms at 100,000 runs); a page view that finds no run
    started or finished since the last one answers from the cache instead.
    """
    from django.core.cache import cache

    scope = ",".join(f"{name}={value}" for name, value in sorted(kwargs.items()))
    key = f"faos:dashboard:{function.__name__}:{scope}:{'-'.join(map(str, stamp))}"
    value = cache.get(key)
    if value is None:
        value = function(**kwargs)
        cache.set(key, value, CACHE_SECONDS)
    return value
