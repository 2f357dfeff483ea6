"""FAOS against a raw Celery chain on the same worker, and the web path end to end (see bench/README.md).

Usage (PostgreSQL + Redis; the database is created if missing, and migrated):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/engine_vs_chain.py [--modes noop,http,webhook,throughput] [--rounds 5] ...

One worker (--concurrency 2) serves every mode; it is stopped warmly (SIGTERM, then wait) at the end.
  noop       : `--runs` runs of `--steps` no-op `set` steps against as many raw chains of no-op tasks, started at
               once; `--rounds` rounds alternating chain and FAOS; steps/s per side and the FAOS / chain ratio.
  http       : the same with each step POSTing to a local fake vendor (http_request vs httpx in a raw task).
  webhook    : signed webhook → 202 latency p50/p95 at concurrency 4 and 16 (`--requests` each, 1-step runs)
               against gunicorn (Procfile.prod's web, gunicorn.conf.py), with the worker and a Beat running; then
               paced at `--rate`/s, and at concurrency 4 with the worker paused (the web path alone).
               With `--web-weight` > 1, concurrency 4 again with the web weighted that much against the worker
               for the CPU (deploy/'s CPUWeight), and the sustained load below too. The p50s are also read at the
               filing day's machine speed (the raw chain timed before and after), as throughput's runs/s are.
  throughput : webhook → 10 no-op steps → succeeded: runs completed per second sustained for `--duration`
               seconds (at most `--inflight` runs unfinished), then the drain time of a burst of `--burst`.
Timings are noisy on a 2-core machine: compare ratios within one run, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import math
import os
import statistics
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
# Production's settings (DEBUG off), minus HTTPS (no proxy here) and collected static files (no pages served).
for _name, _value in {"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "FAOS_STATIC_MANIFEST": "false"}.items():
    os.environ.setdefault(_name, _value)

MODES = ("noop", "http", "webhook", "throughput")
SECRET = "whsec_bench"
# The raw no-op chain's tasks/s on the day issue #14 was filed (its 518–544, same worker settings): the scale that
# `throughput` reads its runs/s against, as this machine's speed moves.
FILING_CHAIN_SPEED = 531


def main() -> None:
    args = parse_args()
    import django

    django.setup()
    logging.disable(logging.INFO)  # this process's own "run started" lines; the workers log to their files
    from django.core.management import call_command

    from bench.workers import Worker, analyze_run_tables, create_database_if_missing, purge_broker

    create_database_if_missing()
    call_command("migrate", verbosity=0)
    analyze_run_tables()
    purge_broker()
    log_dir = ROOT / "var" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
    log_dir.mkdir(parents=True)
    env = child_env()
    worker = Worker(log_dir, env, beat=False, name="bench", extra=("-I", "bench.noop_tasks"))
    try:
        if "noop" in args.modes:
            compare("noop", args, vendor_url=None)
        if "http" in args.modes:
            with vendor() as url:
                compare("http", args, vendor_url=url)
        if {"webhook", "throughput"} & set(args.modes):
            web_modes(args, log_dir, env, worker.pid)
    finally:
        worker.stop(60)
    print(f"\nlogs in {log_dir}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated: {', '.join(MODES)}")
    parser.add_argument("--steps", type=int, default=10, help="steps per run / tasks per chain")
    parser.add_argument("--runs", type=int, default=10, help="runs (chains) started at once per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each timing the chain then FAOS")
    parser.add_argument("--requests", type=int, default=200, help="webhooks per concurrency level")
    parser.add_argument("--concurrency", default="4,16", help="webhook senders at once, per level")
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks/s of the paced level (4 senders); 0: none")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sustained load")
    parser.add_argument("--inflight", type=int, default=16, help="unfinished runs at most, sustained")
    parser.add_argument("--burst", type=int, default=100, help="webhooks of the burst")
    parser.add_argument(
        "--web-weight", type=float, default=3.0,
        help="the web's CPU weight to the worker's for the weighted lines (deploy/'s CPUWeight); 1: none",
    )  # fmt: skip
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"--modes: unknown {sorted(unknown)}; choose from {', '.join(MODES)}")
    return args


def child_env() -> dict:
    from django.conf import settings

    from bench.workers import database_url

    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FAOS_HTTP_ALLOW_HOSTS": "127.0.0.1",
        "FAOS_WEBHOOK_RATE_PER_MINUTE": "1000000",
        "LOG_LEVEL": "INFO",  # the worker's "ready." line
    }


class vendor:
    """The local fake vendor (tests/fakes.py) answering every POST at once."""

    def __enter__(self) -> str:
        from tests.fakes import FakeServer

        self.server = FakeServer()
        return self.server.url

    def __exit__(self, *exc) -> None:
        self.server.close()


# --- FAOS against a raw chain -------------------------------------------------------------------------------


def compare(mode: str, args, vendor_url: str | None) -> None:
    """Interleaved rounds (chain, then FAOS) on the same worker; steps/s medians and their ratio."""
    workflow = engine_workflow(args.steps, vendor_url)
    time_chain(args.steps, 2, vendor_url), time_engine(workflow, 2)  # warm both paths up
    chain, engine, cpu = [], [], {"chain": [], "FAOS": []}
    for _ in range(args.rounds):
        chain.append(args.steps * args.runs / with_cpu(cpu["chain"], time_chain, args.steps, args.runs, vendor_url))
        engine.append(args.steps * args.runs / with_cpu(cpu["FAOS"], time_engine, workflow, args.runs))
    ratios = [e / c for e, c in zip(engine, chain, strict=True)]
    print(f"\n== {mode}: {args.runs} runs x {args.steps} steps at once, {args.rounds} interleaved rounds")
    print(f"  raw Celery chain : {statistics.median(chain):8.1f} steps/s  (rounds: {fmt(chain)})")
    print(f"  FAOS engine      : {statistics.median(engine):8.1f} steps/s  (rounds: {fmt(engine)})")
    print(f"  FAOS / chain     : {statistics.median(ratios):8.2f}x       (rounds: {fmt(ratios, 2)})")
    for side, rounds in cpu.items():  # where the 2 cores went: what to cut next
        spent = {group: statistics.median(r[group] for r in rounds) * 1000 / args.runs for group in rounds[0]}
        print(f"  CPU per run, {side:5}: " + ", ".join(f"{group} {ms:.1f} ms" for group, ms in spent.items()))


def with_cpu(record: list, measure, *args):
    """measure(*args), adding to `record` the CPU seconds each process group used meanwhile (bench.workers)."""
    from bench.workers import cpu_seconds

    before = cpu_seconds()
    seconds = measure(*args)
    after = cpu_seconds()
    record.append({group: after[group] - before[group] for group in before})
    return seconds


def fmt(values: list[float], digits: int = 0) -> str:
    return " ".join(f"{v:.{digits}f}" for v in values)


def engine_workflow(steps: int, vendor_url: str | None, *, active: bool = True):
    """`steps` no-op `set` steps (or POSTs to the vendor); a draft with `active=False` (to add a trigger first)."""
    from tests.factories import active_workflow, workflow_with_steps

    def step(i: int) -> dict:
        if vendor_url is None:
            return {"key": f"s{i}", "name": f"Set {i}", "config": {"action": "set", "input": {"n": i}}}
        inputs = {"method": "POST", "url": f"{vendor_url}/call", "json": {"n": i}}
        return {"key": f"s{i}", "name": f"Call {i}", "config": {"action": "http_request", "input": inputs}}

    make = active_workflow if active else workflow_with_steps
    return make([step(i) for i in range(steps)], name=f"Bench {uuid.uuid4().hex[:6]}")


def time_chain(steps: int, runs: int, vendor_url: str | None) -> float:
    """Seconds until `runs` chains of `steps` tasks, started at once, have all finished."""
    import redis
    from celery import chain
    from django.conf import settings

    from bench.noop_tasks import http_call, noop

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    done_key = f"bench:done:{uuid.uuid4().hex}"

    def task(i: int, run: int, last: bool):
        done = {"done_key": done_key} if last else {}
        if vendor_url is None:
            return noop.s(**done)
        return http_call.s(url=f"{vendor_url}/call", key=f"chain-{done_key[-6:]}-{run}-{i}", **done)

    started = time.perf_counter()
    for run in range(runs):
        chain(*[task(i, run, i == steps - 1) for i in range(steps)]).apply_async()
    while int(client.get(done_key) or 0) < runs:
        time.sleep(0.002)
    return time.perf_counter() - started


def time_engine(workflow, runs: int) -> float:
    """Seconds until `runs` runs of the workflow, started at once, have all finished (and succeeded, each step
    with one succeeded StepRun row: the same record the admin shows, checked after the clock stops)."""
    from django.db import connection

    from executions.models import Execution, StepRun
    from executions.services import execution_start

    started = time.perf_counter()
    ids = [execution_start(workflow=workflow, input={}).pk for _ in range(runs)]
    # Nearly as cheap as the chain's Redis GET: one indexed range in a statement compiled once, not a list of `runs`
    # ids quoted and parsed every 5 ms (that poll cost about a third of a core, which the runs it waits for lacked).
    sql, params = (
        Execution.objects.filter(workflow=workflow, pk__range=(ids[0], ids[-1]), finished_at__isnull=True)
        .values("pk")[:1]
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, params)
            if cursor.fetchone() is None:
                break
            time.sleep(0.005)
    elapsed = time.perf_counter() - started
    failed = Execution.objects.filter(pk__in=ids).exclude(status="succeeded").count()
    assert not failed, f"{failed} bench runs did not succeed"
    rows = StepRun.objects.filter(execution__in=ids, status=StepRun.Status.SUCCEEDED).count()
    assert rows == runs * workflow.steps.count(), f"{rows} succeeded step runs for {runs} runs: not one a step"
    return elapsed


# --- The web path: gunicorn, a worker, Beat ---------------------------------------------------------------------


def web_modes(args, log_dir: Path, env: dict, worker_pid: int) -> None:
    from bench.workers import beat, free_port, gunicorn

    port = free_port()
    web = gunicorn(log_dir, env, port)
    scheduler = beat(log_dir, env)
    levels = [int(c) for c in args.concurrency.split(",")]
    try:
        if "webhook" in args.modes:
            url = webhook_url(port, steps=1)
            speed = [chain_speed()]
            p50s = {f"c{level}": p50 for level, p50 in latency(url, args.requests, levels).items()}
            if args.web_weight > 1:
                with worker_weighted(worker_pid, args.web_weight):
                    p50s[f"c{levels[0]} weighted"] = latency(url, args.requests, levels[:1], warm=False)[levels[0]]
            if args.rate:
                paced(url, args.requests, args.rate)
            p50s["c4 web alone"] = accept_only(url, args.requests)
            speed.append(chain_speed())
            scale = statistics.mean(speed) / FILING_CHAIN_SPEED  # a request's CPU time goes as 1 / machine speed
            print(machine_speed(speed, ", ".join(f"{name} {ms * scale:.1f}" for name, ms in p50s.items()) + " ms p50"))
        if "throughput" in args.modes:
            hook = webhook_url(port, steps=10)
            sustained(hook, args.duration, args.inflight)
            if args.web_weight > 1:
                with worker_weighted(worker_pid, args.web_weight):
                    sustained(hook, args.duration, args.inflight)
            burst(hook, args.burst)
    finally:
        scheduler.stop()
        web.stop(group=True)  # gunicorn's master stops its workers on SIGTERM; the group takes no harm


@contextmanager
def worker_weighted(pid: int, weight: float):
    """While in the block, the worker gets 1/`weight` of the web's CPU share when both want the cores, as
    deploy/'s CPUWeight= gives it under systemd (and FAOS_WORKER_NICE=5 under honcho): its scheduling group (the
    worker leads its own session, so its own autogroup) at the nice of that weight (each step of nice is ~1.25x)."""
    nice = round(math.log(weight) / math.log(1.25))
    group = Path(f"/proc/{pid}/autogroup")
    if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
        print(f"  (no autogroups here: not weighted by {weight:g})")
        yield
        return
    group.write_text(str(nice))
    print(f"\n-- the web weighted {weight:g}:1 against the worker ({group.read_text().strip()})")
    try:
        yield
    finally:
        group.write_text("0")


def latency(url: str, requests: int, levels: list[int], *, warm: bool = True) -> dict[int, float]:
    """Webhook → 202 at each concurrency level, after a warm-up; the runs drain between levels; p50 ms by level."""
    print(f"\n== webhook → 202 (gunicorn, {requests} signed webhooks per level, 1-step runs; worker and Beat on)")
    if warm:
        send(url, 20, 4)  # warm-up: each gunicorn worker loads the app and opens its connections on first use
        wait_drained()
    p50s = {}
    for level in levels:
        started = time.perf_counter()
        latencies = send(url, requests, level)
        wall = time.perf_counter() - started
        p50, p95, top = (1000 * value for value in (pct(latencies, 0.5), pct(latencies, 0.95), max(latencies)))
        print(
            f"  concurrency {level:3}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {top:5.0f} ms  "
            f"{requests / wall:4.0f} webhooks/s"
        )
        p50s[level] = p50
        wait_drained()
    return p50s


def paced(url: str, requests: int, rate: float) -> None:
    """Webhook → 202 with the deliveries spread at `rate` per second (4 senders): a request's own time, where the
    closed loop above measures how requests queue once the 2 cores are saturated (its latency is senders / rate)."""
    gap, lock, slot = 1.0 / rate, threading.Lock(), [time.perf_counter()]

    def next_slot():
        with lock:
            slot[0] = max(slot[0] + gap, time.perf_counter())
            wait = slot[0] - time.perf_counter()
        time.sleep(max(0.0, wait))

    latencies = send(url, requests, 4, gate=next_slot)
    p50, p95, top = (1000 * value for value in (pct(latencies, 0.5), pct(latencies, 0.95), max(latencies)))
    print(f"  paced {rate:4.0f}/s   : p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {top:5.0f} ms  (4 senders)")
    wait_drained()


def accept_only(url: str, requests: int) -> float:
    """Webhook → 202 at concurrency 4 with the worker not taking runs (the web path alone, as the issue's "27–40 ms
    under gunicorn" was measured): the cores serve the requests, not the runs; the runs drain afterwards."""
    from executions.runtime import routing
    from faos.celery import app

    queues = (routing.STEPS, routing.AGENTS)
    for queue in queues:
        assert app.control.cancel_consumer(queue, reply=True), f"no worker answered: {queue} still consumed"
    cpu = []
    try:
        started = time.perf_counter()
        latencies = with_cpu(cpu, send, url, requests, 4)
        wall = time.perf_counter() - started
    finally:
        for queue in queues:
            app.control.add_consumer(queue, reply=True)
    p50, p95, top = (1000 * value for value in (pct(latencies, 0.5), pct(latencies, 0.95), max(latencies)))
    print(
        f"  accept only, c4: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {top:5.0f} ms  {requests / wall:4.0f} "
        "webhooks/s (the worker paused)"
    )
    print("  CPU per webhook: " + ", ".join(f"{group} {1000 * s / requests:.1f} ms" for group, s in cpu[0].items()))
    wait_drained()
    return p50


def webhook_url(port: int, steps: int) -> str:
    """A signed (hmac_sha256) webhook starting `steps` no-op steps; its address on the bench's gunicorn."""
    return f"http://127.0.0.1:{port}/api/hooks/{hook_trigger(steps).token}/"


def hook_trigger(steps: int):
    """The signed (hmac_sha256, SECRET) webhook trigger of a new active workflow of `steps` no-op steps."""
    from tests.factories import TriggerFactory
    from workflows.services import workflow_activate

    workflow = engine_workflow(steps, vendor_url=None, active=False)
    config = {"auth": "hmac_sha256", "rate_per_minute": 1_000_000}
    trigger = TriggerFactory(workflow=workflow, kind="webhook", config=config, secrets=[SECRET])
    workflow_activate(workflow=workflow)
    return trigger


def post(client, url: str) -> float:
    """One signed webhook (a fresh body each time: no replay); its latency, checked to be a 202."""
    from integrations.webhooks import sign

    body = json.dumps({"id": uuid.uuid4().hex, "type": "bench"}).encode()
    headers = {"Content-Type": "application/json", **sign("hmac_sha256", body=body, secret=SECRET)}
    started = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, f"{response.status_code}: {response.text[:300]}"
    return elapsed


def send(url: str, total: int, concurrency: int, gate=None) -> list[float]:
    """`total` webhooks from `concurrency` senders at once (each keeps its connection); their latencies.
    `gate()`, if given, is asked before each send and stops the sender when it says "stop"."""
    from django.db import connection

    latencies: list[float] = []
    errors: list[BaseException] = []
    remaining = iter(range(total))
    lock = threading.Lock()

    def sender():
        client = LeanClient(url)
        try:
            while next_one() and (gate is None or gate() != "stop"):
                latencies.append(post(client, url))
        except BaseException as error:  # a sender that died would only shorten the measurement: fail it instead
            errors.append(error)
        finally:
            client.close()
            connection.close()  # this thread's own, if the gate opened one

    def next_one() -> bool:
        with lock:
            return next(remaining, None) is not None

    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {concurrency} senders failed") from errors[0]
    return latencies


class LeanClient:
    """A keep-alive HTTP/1.1 sender on http.client. The senders share the 2 cores with what they measure, and an
    httpx client spent ~1.4 ms of CPU a request here, http.client ~0.45 ms (a real sender is another machine)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, url: str, content: bytes, headers: dict) -> SimpleNamespace:
        path = urlsplit(url).path
        for attempt in (1, 2):
            try:
                self.connection.request("POST", path, body=content, headers=headers)
                response = self.connection.getresponse()
                return SimpleNamespace(status_code=response.status, text=response.read().decode(errors="replace"))
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.close()  # gunicorn closed a kept-alive connection (a recycled worker): once more on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def unfinished() -> int:
    """Runs not finished yet; by status, which an index leads with (finished_at has none: a scan of every run, and
    the senders ask every 20 ms, which cost this 2-core machine more than the runs themselves)."""
    from executions.models import Execution

    return Execution.objects.filter(status__in=Execution.UNFINISHED).count()


def wait_drained() -> float:
    from bench.workers import wait_for

    started = time.perf_counter()
    wait_for(lambda: unfinished() == 0, timeout=120, interval=0.05, message="the runs to drain")
    return time.perf_counter() - started


def sustained(url: str, duration: float, inflight: int) -> None:
    """Keep at most `inflight` runs unfinished for `duration` seconds; runs completed per second."""
    from django.db import connection
    from django.utils import timezone

    from executions.models import Execution

    open_runs = [0]

    def count():  # one poller for the 4 senders: a COUNT per send cost the machine more than a run's steps
        while time.monotonic() < end:
            open_runs[0] = unfinished()
            time.sleep(0.02)
        connection.close()

    def gate():
        while open_runs[0] >= inflight and time.monotonic() < end:
            time.sleep(0.005)
        return "stop" if time.monotonic() > end else "go"

    wait_drained()  # runs left by an earlier, interrupted bench would hold the gate shut
    speed = [chain_speed()]
    end = time.monotonic() + duration  # from here: the waits above are not part of it
    poller = threading.Thread(target=count)
    since, cpu = timezone.now(), []
    poller.start()
    sent = with_cpu(cpu, send, url, 10**9, 4, gate)
    poller.join()
    until = timezone.now()
    done = Execution.objects.filter(finished_at__gte=since, finished_at__lt=until)
    statuses = set(done.values_list("status", flat=True))
    seconds = (until - since).total_seconds()
    print("\n== end to end: webhook → 10 no-op steps → succeeded (gunicorn + worker -c 2 + Beat)")
    print(
        f"  sustained {seconds:.0f} s, ≤{inflight} unfinished: {done.count() / seconds:6.1f} runs/s completed "
        f"({len(sent)} webhooks accepted; statuses {sorted(statuses)})"
    )
    runs = done.count() or 1
    print("  CPU per run completed: " + ", ".join(f"{group} {1000 * s / runs:.1f} ms" for group, s in cpu[0].items()))
    print(f"  drain of what was left  : {wait_drained():6.2f} s")
    speed.append(chain_speed())
    at_filing = done.count() / seconds * FILING_CHAIN_SPEED / statistics.mean(speed)
    print(machine_speed(speed, f"{at_filing:.1f} runs/s"))


def machine_speed(speed: list[float], reading: str) -> str:
    """The line that reads a figure at the filing day's machine speed, from the chain's speed before and after."""
    return (
        f"  this machine now: raw chain {speed[0]:.0f} tasks/s before, {speed[1]:.0f} after (the day #14 was filed: "
        f"518–544); at {FILING_CHAIN_SPEED} tasks/s this would be {reading}"
    )


def chain_speed(rounds: int = 3, runs: int = 30, steps: int = 10) -> float:
    """The raw chain's no-op tasks/s on this worker now (median of `rounds`): how fast the machine is running,
    which moves by up to 2x within an hour here, to read an end-to-end figure against."""
    return statistics.median(steps * runs / time_chain(steps, runs, None) for _ in range(rounds))


def burst(url: str, size: int) -> None:
    from executions.models import Execution

    first = Execution.objects.order_by("-id").values_list("id", flat=True).first() or 0
    started = time.perf_counter()
    latencies = send(url, size, 8)
    accepted = time.perf_counter() - started
    wait_drained()
    total = time.perf_counter() - started
    statuses = set(Execution.objects.filter(pk__gt=first).values_list("status", flat=True))
    print(
        f"  burst of {size} webhooks : accepted in {accepted:.2f} s (p95 {pct(latencies, 0.95) * 1000:.0f} ms), "
        f"all finished after {total:.2f} s ({size / total:.1f} runs/s; statuses {sorted(statuses)})"
    )


if __name__ == "__main__":
    main()
