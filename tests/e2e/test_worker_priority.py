"""FAOS_WORKER_NICE on a real worker: it and the pool it forks run below the web for the CPU."""

import os
from pathlib import Path

import pytest

from faos.priority import pids, stat

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_worker_with_a_nice_lowers_itself_its_pool_and_its_own_session_group(start_worker):
    worker = start_worker(beat=False, FAOS_WORKER_NICE="5")
    pool = [pid for pid in pids() if stat(pid).get("ppid") == worker.pid]
    assert len(pool) >= 2  # --concurrency 2
    assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in [worker.pid, *pool]} == {5}
    group = Path(f"/proc/{worker.pid}/autogroup")
    if group.exists():  # the worker leads its own session here, as under honcho's `sh -c`
        assert group.read_text().rstrip().endswith("nice 5")
    assert "CPU priority lowered to nice 5" in worker.log.read_text()  # what an operator sees
