"""Step timeouts and leases with a database: a CPU-bound step stops at its timeout, and a busy worker's step is
never handed to another worker by the sweep (the lease is renewed while the step runs)."""

import threading
import time

import pytest
from django.db import connections

from executions.models import Execution
from executions.runtime.sweep import sweep
from executions.services import execution_cancel, execution_start
from integrations.actions.log import LogAction
from tests.factories import active_workflow, log_step
from workflows.models import Agent

pytestmark = pytest.mark.django_db(transaction=True)


class Sweeper:
    """Beat's sweep, run every 50 ms in another thread; remembers every lease it recovered."""

    def __init__(self):
        self.recovered, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        try:
            while not self.stop.is_set():
                self.recovered += sweep().leases_recovered
                time.sleep(0.05)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def slow_log(monkeypatch, seconds: float):
    """`log` made slow, and so no longer pure: it runs in its own thread under a lease, like any step that calls out."""
    original = LogAction.run
    monkeypatch.setattr(LogAction, "pure", False)

    def run(self, inputs, ctx):
        time.sleep(seconds)
        return original(self, inputs, ctx)

    monkeypatch.setattr(LogAction, "run", run)


def test_a_long_running_steps_lease_is_not_stolen(settings, monkeypatch):
    settings.FAOS_LEASE_GRACE_SECONDS = 0.3  # the step runs five times longer than one lease
    slow_log(monkeypatch, 1.5)
    workflow = active_workflow([log_step("slow", timeout_seconds=10)])
    with Sweeper() as sweeper:
        execution = execution_start(workflow=workflow, input={})  # eager: runs here while the sweeper sweeps
    execution.refresh_from_db()
    run = execution.step_runs.get()
    assert sweeper.recovered == [] and run.claims == 1
    assert (execution.status, run.status, run.lease_owner) == ("succeeded", "succeeded", "")


def test_a_catastrophic_pattern_step_stops_within_its_3s_timeout(settings):
    settings.FAOS_LEASE_GRACE_SECONDS = 1
    Agent.objects.create(name="Extractor", role="Pulls fields", allowed_actions=["extract"])
    config = {"agent": "Extractor", "action": "extract", "input": {"text": "{{trigger.text}}"}}
    step = {"key": "pull", "name": "Pull", "kind": "agent", "timeout_seconds": 3}
    workflow = active_workflow([{**step, "config": {**config, "fields": {"x": "(a+)+$"}}}])
    started = time.monotonic()
    with Sweeper() as sweeper:  # Python's backtracking `re` took ~20 s here, holding the GIL, lease long gone
        execution = execution_start(workflow=workflow, input={"text": "a" * 26 + "!"})
    assert time.monotonic() - started < 3.5
    execution.refresh_from_db()
    assert execution.status == "succeeded" and sweeper.recovered == []
    assert execution.step_runs.get().output["missing"] == ["x"]


def test_a_cpu_bound_step_is_failed_at_its_timeout_and_never_taken_over(settings, monkeypatch):
    # A lease as long as the timeout: recording the failure, with the spinning thread taking its share of the GIL,
    # took more than 0.3 s on a slow machine (SQLite), and the sweep rightly took a lease nobody renewed any more.
    # Still far shorter than the spin, so a timeout that never fired would show (the run would not have ended).
    settings.FAOS_LEASE_GRACE_SECONDS = 1.0
    stop, spun = threading.Event(), threading.Event()

    def spin(self, inputs, ctx):
        until = time.monotonic() + 30  # pure Python work, until the test lets it go (bounded all the same)
        while time.monotonic() < until and not stop.is_set():
            sum(range(1_000))
        spun.set()
        return {}

    monkeypatch.setattr(LogAction, "run", spin)
    monkeypatch.setattr(LogAction, "pure", False)  # a step that may spin is not pure: it runs under a timeout
    workflow = active_workflow([log_step("spin", timeout_seconds=1, retry_max_attempts=1)])
    with Sweeper() as sweeper:
        execution = execution_start(workflow=workflow, input={})
    abandoned = not spun.is_set()  # the run ended while the step's thread still spun: nobody waited for it
    stop.set()
    execution.refresh_from_db()
    run = execution.step_runs.get()
    assert abandoned and execution.status == Execution.Status.FAILED and sweeper.recovered == []
    assert run.status == "failed" and "timed out after 1 s" in run.error and run.claims == 1


def test_a_cancelled_runs_step_stops_being_waited_for_at_the_next_heartbeat(settings, monkeypatch):
    settings.FAOS_LEASE_GRACE_SECONDS = 0.3  # a heartbeat every 0.1 s
    slow_log(monkeypatch, 3)
    workflow = active_workflow([log_step("slow", timeout_seconds=10)])

    def cancel_soon():
        time.sleep(0.5)
        try:
            execution_cancel(execution=Execution.objects.get())
        finally:
            connections.close_all()

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    started = time.monotonic()
    execution = execution_start(workflow=workflow, input={})
    canceller.join()
    assert time.monotonic() - started < 2  # not the step's 3 s
    execution.refresh_from_db()
    assert execution.status == "cancelled" and execution.step_runs.get().status == "cancelled"
