"""FAOS_WORKER_NICE: a worker lowers its own CPU priority, and its session's when the session is its own.

Each case runs in a child process with a session of its own: the test process itself is never lowered.
"""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

from faos.priority import lower_cpu_priority

ROOT = Path(__file__).resolve().parents[2]
LOWER = "from faos.priority import lower_cpu_priority; print(lower_cpu_priority({nice}))"
GROUP = "; from pathlib import Path; g = Path('/proc/self/autogroup'); print(g.read_text() if g.exists() else '-')"


def run_lowered(nice: int, *, shell_prefix: str = "") -> tuple[int, str]:
    """(the nice the child now runs at, its autogroup line or '-') from a child leading a session of its own."""
    code = LOWER.format(nice=nice) + GROUP
    command = [sys.executable, "-c", code]
    if shell_prefix:  # the same child, with another process of the session started before it
        command = ["sh", "-c", f'{shell_prefix} >/dev/null 2>&1 & exec {sys.executable} -c "{code}"']
    child = subprocess.Popen(command, cwd=ROOT, stdout=PIPE, stderr=PIPE, text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the session's other process, if any
    assert child.returncode == 0, err
    nice, group = out.strip().splitlines()
    return int(nice), group


def test_zero_leaves_the_priority_as_it_is():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    assert lower_cpu_priority(0) is None
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_a_process_leading_its_own_session_lowers_itself_and_its_session_group():
    nice, group = run_lowered(5)
    assert nice == 5
    if group != "-":  # a kernel with autogroups (Linux's default)
        assert group.rstrip().endswith("nice 5"), group


def test_a_session_shared_with_another_process_keeps_its_group_rank_only_the_process_is_lowered():
    nice, group = run_lowered(5, shell_prefix="sleep 30")  # the sleep stands for a web started by the same shell
    assert nice == 5
    if group != "-":
        assert group.rstrip().endswith("nice 0"), group
