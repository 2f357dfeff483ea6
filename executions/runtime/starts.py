"""Batched starts: on a Redis broker, new runs of the steps queue wait in one list and a worker takes a batch at once.

A Celery message a run costs the worker about as much CPU as the run's ten inline steps (the prefork pool's hand-off
to its process, the broker's delivery and ack). So a run's start appends its id to the list and rings a bell: only
the first start after the bell was answered sends a message (`drain_starts`). The worker that takes it answers the
bell, takes up to BATCH ids off the list (ringing again first when it took a full batch, so that the other processes
join in) and runs them one after another, as a message each would have.

The database stays the truth. An id taken by a worker that then died is a runnable step nobody claimed: the sweep
tells it again as it does a lost message (the list counts as queued work, so a backlog is not mistaken for a loss).
The bell expires, so a lost drain message delays the next start by BELL_SECONDS at most. Without Redis (the
filesystem broker, RabbitMQ), eager tasks or FAOS_BATCHED_STARTS off, each start sends its own message as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

LIST_KEY = "faos:starts:steps"
BELL_KEY = "faos:starts:steps:bell"
BATCH = 8  # runs a drain takes at once: one message instead of eight, and at most eight to re-tell if it dies
BELL_SECONDS = 5  # a bell nobody answered (its message lost) rings again on the next start after this


def enabled() -> bool:
    """Whether starts are batched here: a Redis broker, real workers, and the setting on."""
    from faos.celery import app

    broker = settings.CELERY_BROKER_URL
    return (
        settings.FAOS_BATCHED_STARTS and broker.startswith(("redis://", "rediss://")) and not app.conf.task_always_eager
    )


@lru_cache(maxsize=4)
def _client(url: str):
    import redis

    return redis.Redis.from_url(url)  # its pool is thread-safe and reopens its connections after a fork


def client():
    """This process's client of the broker's Redis database."""
    return _client(settings.CELERY_BROKER_URL)


def announce(execution_id: int) -> None:
    """Queue this run's start once the current transaction has committed (a worker must find its rows)."""
    transaction.on_commit(lambda: _push(execution_id))


def _push(execution_id: int) -> None:
    from redis.exceptions import RedisError

    try:
        pipe = client().pipeline(transaction=False)
        pipe.rpush(LIST_KEY, execution_id)
        pipe.set(BELL_KEY, 1, nx=True, ex=BELL_SECONDS)
        _, rang = pipe.execute()
    except RedisError as error:  # send the run's own message, as without batching (the sweep covers a failure)
        logger.warning("could not queue the start of run %s (%s); sending its message", execution_id, error)
        _send("executions.tasks.run_execution", execution_id)
        return
    if rang:
        _send("executions.tasks.drain_starts")


def _send(name: str, *args) -> None:
    from . import routing
    from .broker import task

    task(name).apply_async(args, queue=routing.STEPS)


def drain(
    run: Callable[[int], object], *, retry: tuple[type[BaseException], ...] = (), batch: int = BATCH
) -> list[int]:
    """Answer the bell, take up to `batch` runs off the list and run each (`run(execution_id)`); their ids.

    A run that raises one of `retry` (the database went away) puts itself and the runs after it back at the head of
    the list and re-raises, for the task to try again; any other error is logged and left to the sweep, as a run's
    own failed message is, and the next run goes ahead."""
    redis = client()
    redis.delete(BELL_KEY)  # before taking: a start that lands after this rings again, so none is left waiting
    pipe = redis.pipeline(transaction=True)
    pipe.lrange(LIST_KEY, 0, batch - 1)
    pipe.ltrim(LIST_KEY, batch, -1)
    taken = [int(value) for value in pipe.execute()[0]]
    if len(taken) == batch and redis.set(BELL_KEY, 1, nx=True, ex=BELL_SECONDS):
        _send("executions.tasks.drain_starts")  # more may wait: another process takes the next batch meanwhile
    for index, execution_id in enumerate(taken):
        try:
            run(execution_id)
        except retry:
            redis.lpush(LIST_KEY, *reversed(taken[index:]))
            raise
        except Exception:
            logger.exception("run %s failed to start here; the sweep tells it again", execution_id)
    return taken


def waiting() -> int:
    """Runs waiting in the list; 0 when starts are not batched."""
    if not enabled():
        return 0
    return int(client().llen(LIST_KEY))


def purge() -> None:
    """Forget the runs waiting in the list (with `celery purge`: tests and benches that start from an empty broker)."""
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        client().delete(LIST_KEY, BELL_KEY)
