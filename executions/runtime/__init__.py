"""The runtime: the edge between the rows and the engine, one step at a time, in the order a task does it.

    claim → run → record → follow → outbox

loop.py    execution_run: a task's loop over one run (claim, run, run the pure steps after it, record; again)
claim.py   steprun_claim: take one runnable step with one UPDATE and give it a lease (or time the run out)
run.py     attempt: run one attempt of a claimed step with its context and ports (pure steps in this thread)
inline.py  pure steps: run in memory after a step and recorded with it in one write
record.py  steprun_complete: record an attempt under its lease, then act on the engine's decision
follow.py  after the record: park, retry, or start what follows (in the recording transaction)
outbox.py  events, e-mails and notices: rows written with the decision, delivered after the commit

and what they lean on: state.py (what a task remembers between steps), ports.py (the engine's ports: events,
sub-workflows, actions), leases.py, routing.py (which queue, which steps a worker may claim), broker.py (send a
task by name), run_log.py (one log line per transition), sweep.py (Beat: recover leases, wake timers, time out).

The entry points below are found on first use rather than imported here: the business services (services,
approvals, events, …) import the lower half of this package (outbox, routing, broker, run_log, state), and the
loop imports them, so importing the loop with the package would make a circle.
"""

from importlib import import_module

ENTRY_POINTS = {
    "execution_run": "loop",
    "worker_id": "loop",
    "enqueue_now": "loop",
    "steprun_claim": "claim",
    "steprun_complete": "record",
}
__all__ = sorted(ENTRY_POINTS)


def __getattr__(name: str):
    """`runtime.execution_run` and the other entry points, from the module that holds them."""
    if name not in ENTRY_POINTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{ENTRY_POINTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *ENTRY_POINTS})
