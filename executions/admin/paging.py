"""Bounded pages: a paginator that stops counting, and the run page's loop items folded to a window."""

from dataclasses import dataclass, field

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils.functional import cached_property

from .. import scopes
from ..models import Execution, StepRun

COUNT_CAP = 10_000  # a list counts at most this many rows; past it the page says "10,000+"
ITEMS_SHOWN = 20  # loop items shown per loop on the run page; ?items=N shows the next window
MAX_DEPTH = 4  # nested loops folded this deep; deeper item scopes are not listed


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (COUNT over a LIMIT), so a list of a million runs costs no full COUNT(*)."""

    @cached_property
    def counted(self) -> int:
        return self.object_list.order_by()[: COUNT_CAP + 1].count()  # any COUNT_CAP + 1 rows: no sort

    @cached_property
    def count(self) -> int:
        return min(self.counted, COUNT_CAP)

    @property
    def capped(self) -> bool:
        """More rows than counted: the page says "10,000+" and filters narrow the list."""
        return self.counted > COUNT_CAP


class RunDataDeferred(ChangeList):
    """A list of rows that name their run (approvals, tasks): the run's data stays in the database."""

    RUN_DATA = ("execution__input", "execution__output", "execution__variables", "execution__trigger_meta")

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer(*self.RUN_DATA)


@dataclass
class Fold:
    """The step runs the run page shows, and what each loop left out."""

    step_runs: object  # a queryset of the shown rows
    loops: list = field(default_factory=list)  # (loop key, scope, item count, first shown, last shown)
    start: int = 0


def item_start(raw) -> int:
    """The ?items= offset: a whole number of windows from 0, anything else 0."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 0
    return max(value - value % ITEMS_SHOWN, 0) if value < 10**9 else 0


def fold_step_runs(execution: Execution, *, start: int = 0) -> Fold:
    """Top-level step runs, items [start, start + ITEMS_SHOWN) of each top-level loop (the first ones of nested
    loops), and up to ITEMS_SHOWN failed attempts elsewhere: a bounded page whatever the item count.

    One query per nesting level reads the loop steps' item counts (never the items); one reads the failures.
    """
    shown, frontier, loops = {""}, {""}, []
    loop_steps = execution.step_runs.filter(step_kind="loop")
    keys = _loop_keys(execution)
    if keys is not None:  # the run's version names its loops: the unique index finds them without a scan
        loop_steps = loop_steps.filter(step_key__in=keys)
    for depth in range(MAX_DEPTH):
        rows = loop_steps.filter(scope__in=frontier).order_by("id")
        counts = {(scope, key): count for scope, key, count in rows.values_list("scope", "step_key", "output__count")}
        if not counts:
            break
        frontier = set()
        for (scope, key), count in counts.items():
            window = _window(start if depth == 0 else 0, count)
            frontier |= {scopes.child(scope, key, index) for index in window}
            if depth == 0:
                loops.append((key, scope, count, window))
        shown |= frontier
    failed = execution.step_runs.filter(status=StepRun.Status.FAILED).exclude(scope__in=shown).order_by("id")
    failed_ids = list(failed.values_list("id", flat=True)[:ITEMS_SHOWN])
    step_runs = execution.step_runs.filter(Q(scope__in=shown) | Q(pk__in=failed_ids))
    return Fold(step_runs=step_runs, loops=loops, start=start)


def _loop_keys(execution: Execution) -> list[str] | None:
    """The keys of the loop steps in the run's version (None when its definition does not say)."""
    definition = execution.version.definition if execution.version_id else None
    steps = definition.get("steps") if isinstance(definition, dict) else None
    if not isinstance(steps, list):
        return None
    return [step["key"] for step in steps if isinstance(step, dict) and step.get("kind") == "loop" and "key" in step]


def _window(first: int, count) -> range:
    """ITEMS_SHOWN item indexes from `first` (the last window when `first` is past the end)."""
    if not isinstance(count, int):
        return range(first, first + ITEMS_SHOWN)  # a loop that has not counted its items yet
    first = min(first, max(count - 1, 0) // ITEMS_SHOWN * ITEMS_SHOWN)
    return range(first, min(first + ITEMS_SHOWN, count))
