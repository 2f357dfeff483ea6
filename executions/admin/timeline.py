"""The execution timeline: each step attempt as a bar drawn to scale (parallel branches overlap)."""

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..models import Execution
from .paging import ITEMS_SHOWN, Fold


def render_timeline(execution: Execution, fold: Fold | None = None) -> str:
    """An HTML table: step, attempt, status, and a bar placed and sized by its start and duration.

    With a fold, only its step runs (loop items in a window), under a line per loop linking to the other items.
    """
    shown = fold.step_runs if fold else execution.step_runs
    runs = list(shown.defer("input", "output", "requests", "error_detail").order_by("started_at", "id"))  # not drawn
    notes = format_html_join("", "{}", ((_fold_note(*loop),) for loop in fold.loops)) if fold else ""
    started = [r.started_at for r in runs if r.started_at]
    if not started:
        return format_html("{}<p>No step has started yet.</p>", notes)
    origin = min(started)
    end = max([r.finished_at or timezone.now() for r in runs if r.started_at] + [execution.finished_at or origin])
    total = max((end - origin).total_seconds(), 0.001)
    rows = format_html_join("", "{}", ((_row(run, origin, total),) for run in runs))
    return format_html(
        '{}<table class="faos-timeline"><thead><tr><th>Step</th><th>Attempt</th><th>Status</th>'
        '<th class="bar-col">Timeline ({} s)</th><th>Duration</th></tr></thead><tbody>{}</tbody></table>',
        notes,
        f"{total:.2f}",
        rows,
    )


def _fold_note(key: str, scope: str, count, window: range) -> str:
    """ "Loop each: items 21–40 of 10,000 shown", with links to the previous and next windows (?items=)."""
    if not isinstance(count, int) or (count <= ITEMS_SHOWN and not window.start):
        return ""  # a short loop shows every item: nothing folded, nothing to say
    links = []
    if window.start > 0:
        back = max(window.start - ITEMS_SHOWN, 0)
        links.append(format_html('<a href="?items={}">← previous {}</a>', back, ITEMS_SHOWN))
    if window.stop < count:
        links.append(format_html('<a href="?items={}">next {} →</a>', window.stop, ITEMS_SHOWN))
    shown = f"items {window.start + 1}–{window.stop} of {count:,}" if window else f"no items of {count:,}"
    return format_html(
        '<p class="faos-fold">Loop <strong>{}</strong>{}: {} shown (failed attempts are always shown). {}</p>',
        key,
        f" (in {scope})" if scope else "",
        shown,
        format_html_join(" · ", "{}", ((link,) for link in links)),
    )


def _row(run, origin, total: float) -> str:
    scope = f" · {run.scope}" if run.scope else ""
    if run.started_at:
        left = (run.started_at - origin).total_seconds() / total * 100
        width = max(((run.finished_at or timezone.now()) - run.started_at).total_seconds() / total * 100, 0.5)
        bar = format_html(
            '<div class="faos-bar faos-{}" style="margin-left:{}%;width:{}%"></div>',
            run.status,
            f"{left:.2f}",
            f"{min(width, 100 - left):.2f}",
        )
    else:
        bar = format_html(
            '<span class="faos-quiet">{}</span>',
            f"waits until {run.wake_at:%Y-%m-%d %H:%M}" if run.wake_at else "not started",
        )
    duration = f"{run.duration_ms} ms" if run.duration_ms is not None else "—"
    return format_html(
        '<tr id="step-{}"><td><strong>{}</strong><br><small>{} · {}{}</small></td><td>{}</td>'
        '<td><span class="faos-badge faos-{}">{}</span></td><td class="bar-col">{}</td><td>{}</td></tr>'
        "{}",
        run.pk,
        run.step_name or run.step_key,
        run.step_key,
        run.step_kind,
        scope,
        run.attempt,
        run.status,
        run.get_status_display(),
        bar,
        duration,
        _error_row(run),
    )


def _error_row(run) -> str:
    if not run.error:
        return ""
    return format_html(
        '<tr class="faos-error-row"><td colspan="5"><span class="faos-error">{}</span></td></tr>', run.error
    )
