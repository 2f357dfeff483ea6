"""A worker that yields the CPU to the web process on a shared machine (FAOS_WORKER_NICE), where no service
manager weights them (honcho, one container); under systemd, deploy/'s CPUWeight= does it instead."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PROC = Path("/proc")


def lower_cpu_priority(nice: int, *, proc: Path = PROC) -> int | None:
    """Lower this process's CPU priority by `nice` (its children inherit it); the nice value it now runs at, or None
    when `nice` is 0 (the default: the OS is asked nothing).

    Linux ranks one session's processes against another's by their scheduling group (autogroup), whose own nice
    counts there, not theirs: honcho starts each process in a session of its own, so that group is lowered too,
    but only when the session holds nothing else (a shell that also started the web keeps its rank).
    """
    if nice <= 0:
        return None
    now = os.nice(nice)
    group = proc / "self" / "autogroup"
    grouped = group.exists() and _session_is_only_us(proc)
    if grouped:
        try:
            current = int(group.read_text().rsplit("nice", 1)[1])
            group.write_text(str(max(current, now)))
        except (OSError, ValueError, IndexError) as error:
            grouped = False
            log.warning("could not lower the session's CPU priority (%s): only the worker's own is lowered", error)
    log.info("CPU priority lowered to nice %d%s", now, " with its session's scheduling group" if grouped else "")
    return now


def _session_is_only_us(proc: Path) -> bool:
    """Whether every process of this session is this one or one of its ancestors (e.g. honcho's `sh -c`)."""
    session, ours, pid = os.getsid(0), set(), os.getpid()
    while pid > 0 and pid not in ours:
        ours.add(pid)
        if pid == session:
            break
        pid = stat(pid, proc=proc).get("ppid", 0)
    members = {pid for pid in pids(proc) if stat(pid, proc=proc).get("session") == session}
    return members <= ours


def pids(proc: Path = PROC) -> list[int]:
    """Every process's id."""
    return [int(entry.name) for entry in proc.iterdir() if entry.name.isdigit()]


def stat(pid: int, *, proc: Path = PROC) -> dict[str, int]:
    """A process's parent and session from /proc/<pid>/stat ({} once it has gone)."""
    try:
        fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return {}
    return {"ppid": int(fields[1]), "session": int(fields[3])}
