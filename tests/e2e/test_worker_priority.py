"""FAOS_WORKER_NICE on a real worker: it and the pool it forks run below the web for the CPU."""

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a worker's pool)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue  # gone meanwhile
    return found


def test_a_worker_with_a_nice_lowers_itself_its_pool_and_its_own_session_group(start_worker):
    worker = start_worker(beat=False, FAOS_WORKER_NICE="5")
    pool = children(worker.pid)
    assert len(pool) >= 2  # --concurrency 2
    assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in [worker.pid, *pool]} == {5}
    group = Path(f"/proc/{worker.pid}/autogroup")
    if group.exists():  # the worker leads its own session here, as under honcho's `sh -c`
        assert group.read_text().rstrip().endswith("nice 5")
    assert "CPU priority lowered to nice 5" in worker.log.read_text()  # what an operator sees
