"""The checks of a chaos run (bench/chaos.py): runs, step runs, the vendor's requests, e-mails, outbox events."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

VENDOR_STEPS = ("reserve", "charge", "ship", "record")
STEPS = ("reserve", "charge", "notify", "ship", "record")
MAIL_KEY = "X-FAOS-Idempotency-Key: "


def db_retry(query, default=None):
    """A query that survives a database restart: on error, drop the connection and answer `default`."""
    from django.db import connection

    try:
        return query()
    except Exception:
        connection.close()
        return default


def drained(ids: list[int]) -> bool:
    """Every run finished and its execution event delivered."""
    from executions.models import Execution, OutboxMessage

    keys = [f"execution:{pk}:succeeded" for pk in ids]

    def query():
        unfinished = Execution.objects.filter(pk__in=ids, finished_at__isnull=True).exists()
        return not unfinished and not OutboxMessage.objects.filter(key__in=keys).exclude(status="sent").exists()

    return db_retry(query, False)


def mail_keys(mail_dir: Path) -> Counter:
    """The idempotency keys of every e-mail the file backend wrote."""
    keys = Counter()
    for path in mail_dir.glob("*") if mail_dir.exists() else []:
        for line in path.read_text().splitlines():
            if line.startswith(MAIL_KEY):
                keys[line[len(MAIL_KEY) :].strip()] += 1
    return keys


def check(ids: list[int], requests, mail_dir: Path) -> tuple[list[str], dict]:
    """Every guarantee, as failures (empty when all hold) and figures."""
    from executions.models import Event, Execution, OutboxMessage, StepRun

    failures: list[str] = []
    statuses = Counter(Execution.objects.filter(pk__in=ids).values_list("status", flat=True))
    if statuses != Counter({"succeeded": len(ids)}):
        failures.append(f"not every run succeeded: {dict(statuses)}")
    rows = list(
        StepRun.objects.filter(execution_id__in=ids).values_list(
            "execution_id", "step_key", "status", "attempt", "claims"
        )
    )
    succeeded = Counter((run, key) for run, key, status, _, _ in rows if status == "succeeded")
    wrong = [(run, key, succeeded[run, key]) for run in ids for key in STEPS if succeeded[run, key] != 1]
    if wrong:
        failures.append(f"{len(wrong)} steps without exactly one succeeded step run, e.g. {wrong[:5]}")
    failures += check_vendor(ids, requests)
    mails = mail_keys(mail_dir)
    runs_mailed = {key.split("-")[1] for key in mails}
    if missing := [pk for pk in ids if str(pk) not in runs_mailed]:
        failures.append(f"{len(missing)} runs sent no e-mail, e.g. {missing[:5]}")
    outbox = Counter(
        OutboxMessage.objects.filter(key__in=[f"execution:{pk}:succeeded" for pk in ids]).values_list(
            "status", flat=True
        )
    )
    if outbox != Counter({"sent": len(ids)}):
        failures.append(f"execution.succeeded outbox rows are not one sent per run: {dict(outbox)}")
    events = Counter(
        Event.objects.filter(type="execution.succeeded", data__execution_id__in=ids).values_list(
            "data__execution_id", flat=True
        )
    )
    if bad := [(pk, events[pk]) for pk in ids if events[pk] != 1]:
        failures.append(f"{len(bad)} runs without exactly one execution.succeeded event, e.g. {bad[:5]}")
    figures = {
        "step runs": len(rows),
        "re-claims (a killed step taken again)": sum(claims - 1 for *_, claims in rows if claims > 1),
        "retries (attempts after the first)": sum(1 for *_, attempt, _ in rows if attempt > 1),
        "vendor calls repeated (same key)": len(requests) - len({r.headers.get("Idempotency-Key") for r in requests}),
        "e-mails repeated (same key)": sum(mails.values()) - len(mails),
    }
    return failures, figures


def check_vendor(ids: list[int], requests) -> list[str]:
    """Each (run, step) called, every repeat with the same key, and each step's key its own."""
    keys = defaultdict(set)
    for request in requests:
        body = request.json() or {}
        keys[str(body.get("run")), body.get("step")].add(request.headers.get("Idempotency-Key"))
    failures = []
    if missing := [(pk, step) for pk in ids for step in VENDOR_STEPS if (str(pk), step) not in keys]:
        failures.append(f"{len(missing)} vendor calls never made, e.g. {missing[:5]}")
    if mixed := {call: sorted(map(str, k)) for call, k in keys.items() if len(k) != 1 or None in k}:
        failures.append(f"{len(mixed)} calls repeated with different (or no) keys, e.g. {list(mixed.items())[:3]}")
    owners = Counter(key for k in keys.values() for key in k)
    if shared := [key for key, n in owners.items() if n > 1]:
        failures.append(f"{len(shared)} idempotency keys shared by different steps, e.g. {shared[:5]}")
    return failures


def log_figures(logs: list[Path]) -> dict:
    """From the workers' logs: runs the sweep re-sent (kicked) and run tasks that found nothing to claim."""
    kicked = empty = 0
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        kicked += sum(int(n) for n in re.findall(r"'kicked': (\d+)", text))
        empty += len(re.findall(r"tasks\.run_execution\[[^\]]+\] succeeded in [\d.]+s: 0\n", text))
    return {"sweep re-sends (kicked runs)": kicked, "run tasks that claimed nothing": empty}
